// Command berth-nspawn builds one container and runs it, with
// systemd-nspawn's options and meanings. See docs/berth-nspawn.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nspawnopts"
	_ "github.com/berth-dev/berth/internal/oneproc" // one P from the first package init on
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/register"
	"github.com/berth-dev/berth/internal/spawn"
	"golang.org/x/term"
)

func main() {
	runtime.MemProfileRate = 0 // a short-lived program: no heap profile sampling
	// One P (package oneproc): the spawner mostly waits for its stage and
	// the kernel, and each further P costs a thread start and context
	// switches. A GOMAXPROCS from the environment still wins.
	if n, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && n > 0 {
		runtime.GOMAXPROCS(n)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	p, err := hostPaths(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-nspawn: %v\n", err)
		return 1
	}
	c, err := nspawnopts.Parse(args, nspawnopts.Env{
		StdinTTY:  term.IsTerminal(0),
		StdoutTTY: term.IsTerminal(1),
		Getenv:    os.Getenv,
		ImageDirs: p.ImageDirs,
		Pool:      p.Pool,
		Exists:    func(s string) bool { _, err := os.Stat(s); return err == nil },
		FindImage: findImage(p),
		Usage:     os.Stdout,
	})
	if errors.Is(err, nspawnopts.ErrHelp) {
		printEnvHelp(os.Stdout)
		return 0
	}
	if err == nil {
		err = nspawnopts.ApplySettings(&c, p, os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-nspawn: %v\n", err)
		return 1
	}
	o := spawn.Options{Paths: p, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	reg, err := register.Dial(c.Register)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-nspawn: %v\n", err)
		return 1
	}
	if reg != nil {
		defer reg.Close()
		if err := reg.AllowDevices(c.Binds); err != nil {
			fmt.Fprintf(os.Stderr, "berth-nspawn: %v\n", err)
			return 1
		}
		// systemd's RequestStop is handled as SIGTERM is: forwarded to
		// the container as the kill signal.
		reg.OnRequestStop(func() { _ = syscall.Kill(os.Getpid(), syscall.SIGTERM) })
		o.Registrar = reg
	}
	code, err := spawn.Run(c, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-nspawn: %v\n", err)
	}
	return code
}

// findImage finds -M NAME's image in the image directories of p: a
// directory, subvolume or raw file.
func findImage(p paths.Paths) func(string) (nspawnopts.Found, error) {
	return func(name string) (nspawnopts.Found, error) {
		img, err := images.New(p).Find(name)
		if err != nil {
			return nspawnopts.Found{}, err
		}
		if img.Type == images.Block {
			return nspawnopts.Found{}, fmt.Errorf("image %s is a block device, which berth-nspawn cannot run yet", name)
		}
		return nspawnopts.Found{Path: img.Path, Raw: img.Type == images.Raw, ReadOnly: img.ReadOnly}, nil
	}
}
