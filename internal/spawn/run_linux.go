package spawn

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

// Options are the spawner's surroundings.
type Options struct {
	// Paths are the host paths (the cgroup root among them).
	Paths paths.Paths
	// Stdin, Stdout and Stderr are the spawner's own fds 0-2.
	Stdin, Stdout, Stderr *os.File
	// Getenv reads the spawner's environment (TERM, NOTIFY_SOCKET).
	Getenv func(string) string
	// Registrar registers the machine; nil runs without registration.
	Registrar Registrar
}

// Registrar is the seam to machine1: Register is called with the leader's
// PID before the container is built; Unregister after it ended.
type Registrar interface {
	Register(m Machine) error
	Unregister(name string) error
}

// Machine is what is registered.
type Machine struct {
	Name      string
	UUID      [16]byte
	Leader    int
	Directory string
	KeepUnit  bool
	// KillSignal is the --kill-signal (0: none), for the scope's
	// KillSignal/KillMode properties.
	KillSignal int
	// NetIfIndices are the host-side network interfaces of the container
	// (its veth, or the bridge it joined).
	NetIfIndices []int
}

// Run builds and runs the container c and returns the spawner's exit
// status. Errors before the payload started are returned as err (exit
// status 1).
func Run(c nspawnopts.Config, o Options) (int, error) {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	incoming := propagationDir(o.Paths, c.Machine)
	if err := rootfs.PreparePropagation(incoming); err != nil {
		return 1, err
	}
	defer rootfs.RemovePropagation(incoming)
	ns, err := newMountNS(privateBase(&c))
	if err != nil {
		return 1, err
	}
	defer ns.close()
	carrier := startCarrier(&c)
	defer closeCarrier(carrier)
	if c.Image != "" {
		if c.Directory, err = stagingDir(o.Paths, c.Machine); err != nil {
			return 1, err
		}
		defer os.Remove(c.Directory)
	}
	sc, err := setup(&c, o, ns)
	if err != nil {
		return 1, err
	}
	defer removeWorkDirs(sc)
	lock, err := lockImage(&sc.Config, o)
	if err != nil {
		return 1, err
	}
	defer lock.Release()
	if sc.users, err = setupUsers(sc, o, ns, carrier); err != nil {
		return 1, err
	}
	defer sc.users.release()
	logf(o, c.Quiet, "Spawning container %s on %s.\n", c.Machine, c.Directory)
	for {
		out, err := runOnce(sc, o, ns)
		if err != nil {
			return 1, err
		}
		logf(o, c.Quiet, "%s\n", out.msg)
		if !out.reboot {
			return out.code, nil
		}
		if c.KeepUnit {
			return ExitReboot, nil
		}
	}
}

// setup attaches a raw image (-i) on its staging directory in the
// spawner's mount namespace and prepares the configuration there.
func setup(c *nspawnopts.Config, o Options, ns *mountNS) (*stageConfig, error) {
	var sc *stageConfig
	err := ns.do(func() error {
		if c.Image != "" {
			// -x and --volatile never write to the image (nspawn copies
			// it for -x), and take no lock on it: attach it read-only.
			ro := c.ReadOnly || c.Ephemeral || c.Volatile != nspawnopts.VolatileNo
			if err := attachRaw(c.Image, ro, c.Directory); err != nil {
				return err
			}
		}
		var err error
		sc, err = prepare(c, o)
		return err
	})
	return sc, err
}

// stagingDir creates the empty directory below the runtime directory where
// a raw image's file system is attached, in the spawner's mount namespace
// only: on the host it stays empty, and it is removed when the machine
// ends.
func stagingDir(p paths.Paths, machine string) (string, error) {
	parent := filepath.Join(p.Run, "staging")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", fmt.Errorf("image staging directory: %w", err)
	}
	dir, err := os.MkdirTemp(parent, machine+".")
	if err != nil {
		return "", fmt.Errorf("image staging directory: %w", err)
	}
	return dir, nil
}

// logf writes an informational message unless quiet.
func logf(o Options, quiet bool, format string, args ...any) {
	if !quiet && o.Stderr != nil {
		fmt.Fprintf(o.Stderr, format, args...)
	}
}

// prepare checks the image and computes what the stage needs.
func prepare(c *nspawnopts.Config, o Options) (*stageConfig, error) {
	dir, err := filepath.Abs(c.Directory)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	c.Directory = dir
	if err := fillFromTemplate(c); err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("directory %s does not exist or is not a directory", dir)
	}
	if err := makeWorkDirs(c); err != nil {
		return nil, err
	}
	uuid := containerUUID(c)
	hostOS := hostOSRelease()
	sc := &stageConfig{
		Config: *c, UUID: uuid,
		Env: baseEnv(c.Boot, uuid, o.Getenv("TERM"), hostOS),
		Host: map[string][]byte{
			rootfs.HostContainerManager: []byte(ContainerName + "\n"),
			rootfs.HostContainerUUID:    []byte(uuid + "\n"),
		},
	}
	sc.awaitGo = o.Registrar != nil || hostNetwork(c.Network)
	mode, _ := containercgroup.Detect(o.Paths.Cgroup)
	sc.Cgroup = mode != containercgroup.None
	if c.Boot && !sc.Cgroup {
		return nil, errors.New("--boot needs a cgroup2 hierarchy on the host, and none is mounted")
	}
	return sc, nil
}

// containerUUID picks the container ID: a valid /etc/machine-id in the
// image wins over --uuid; neither gives a random one. It is returned in
// the dashed form.
func containerUUID(c *nspawnopts.Config) string {
	if id := rootfs.MachineID(c.Directory, c.PivotRoot.New); id != "" {
		u, _ := nspawnopts.ParseUUID(id)
		return u
	}
	if c.UUID != "" {
		return c.UUID
	}
	var b [16]byte
	_, _ = unix.Getrandom(b[:], 0) // crypto/rand's init would cost every start
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	u, _ := nspawnopts.ParseUUID(hex.EncodeToString(b[:]))
	return u
}

// hostOSRelease reads the host's os-release file.
func hostOSRelease() map[string]string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if data, err := os.ReadFile(p); err == nil {
			return ParseOSRelease(data)
		}
	}
	return map[string]string{}
}

// fillFromTemplate copies --template into an empty or missing directory.
func fillFromTemplate(c *nspawnopts.Config) error {
	if c.Template == "" {
		return nil
	}
	if entries, err := os.ReadDir(c.Directory); err == nil && len(entries) > 0 {
		return nil
	}
	if err := os.MkdirAll(c.Directory, 0o755); err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	cmd := exec.Command("cp", "-a", "--reflink=auto", filepath.Clean(c.Template)+"/.", c.Directory)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out []byte
	err := withStartSlack(func() (err error) { out, err = cmd.CombinedOutput(); return err })
	if err != nil {
		return fmt.Errorf("--template: copy %s: %v: %s", c.Template, err, out)
	}
	return nil
}

// uuidBytes turns the dashed UUID into bytes.
func uuidBytes(u string) [16]byte {
	var b [16]byte
	raw, _ := hex.DecodeString(stripDashes(u))
	copy(b[:], raw)
	return b
}

func stripDashes(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// makeWorkDirs creates overlayfs work directories next to the host upper
// directories of --overlay, as nspawn does; removeWorkDirs removes them.
func makeWorkDirs(c *nspawnopts.Config) error {
	for i, o := range c.Overlays {
		if o.ReadOnly || o.Upper == "" || o.Upper[0] == '+' {
			continue
		}
		work := filepath.Join(filepath.Dir(o.Upper), ".#"+filepath.Base(o.Upper)+"."+c.Machine+".work")
		if err := os.MkdirAll(work, 0o700); err != nil {
			return fmt.Errorf("overlay work directory: %w", err)
		}
		c.Overlays[i].Work = work
	}
	return nil
}

func removeWorkDirs(sc *stageConfig) {
	for _, o := range sc.Config.Overlays {
		if o.Work != "" {
			_ = os.RemoveAll(o.Work)
		}
	}
}
