package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/berth-dev/berth/internal/lifecycle"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/sysdbackend"
)

// BackendEnv chooses the lifecycle backend: "auto" (the default:
// systemd when the host under --root was booted with systemd, else
// embedded), "embedded" or "systemd".
const BackendEnv = "BERTH_BACKEND"

// Backend names.
const (
	backendAuto     = "auto"
	backendEmbedded = "embedded"
	backendSystemd  = "systemd"
)

// chooseBackend resolves a backend name ("" is auto).
func chooseBackend(name string, p paths.Paths) (string, error) {
	switch name {
	case backendEmbedded, backendSystemd:
		return name, nil
	case backendAuto, "":
		if sysdbackend.Booted(p.Root) {
			return backendSystemd, nil
		}
		return backendEmbedded, nil
	}
	return "", fmt.Errorf("%s=%q: want auto, embedded or systemd", BackendEnv, name)
}

// lifecycleService is the machine lifecycle berthd serves.
type lifecycleService struct {
	m       *lifecycle.Manager
	backend string
	close   func()
}

// setupLifecycle creates the lifecycle manager over the backend chosen by
// $BERTH_BACKEND.
func setupLifecycle(logger *log.Logger, p paths.Paths, reg *machine.Registry) (*lifecycleService, error) {
	backend, err := chooseBackend(os.Getenv(BackendEnv), p)
	if err != nil {
		return nil, err
	}
	logger.Printf("lifecycle backend: %s", backend)
	env := lifecycle.WithEnvironment(unitEnvironment(p, os.Getenv)...)
	if backend == backendEmbedded {
		sup, err := supervisor.New(p)
		if err != nil {
			return nil, err
		}
		return &lifecycleService{m: lifecycle.New(p, lifecycle.Embedded{S: sup}, env), backend: backend, close: func() {}}, nil
	}
	b, err := sysdbackend.New(context.Background())
	if err != nil {
		return nil, err
	}
	leaderOf := func(name string) (int, error) {
		m, err := reg.Get(name)
		if err != nil {
			return 0, fmt.Errorf("leader of %s: %w", name, lifecycle.ErrNotRunning)
		}
		return int(m.Leader), nil
	}
	return &lifecycleService{m: lifecycle.New(p, lifecycle.Systemd{B: b, LeaderOf: leaderOf}, env), backend: backend, close: b.Close}, nil
}

// unitEnvironment is what berthd adds to every machine unit's
// environment: with --root, the root for berth-nspawn (so -M finds the
// images in the root's pools); with DBUS_SYSTEM_BUS_ADDRESS, that bus (so
// the machine registers with this berthd).
func unitEnvironment(p paths.Paths, getenv func(string) string) []string {
	var env []string
	if p.Root != "/" {
		env = append(env, lifecycle.RootEnv+"="+p.Root)
	}
	if bus := getenv("DBUS_SYSTEM_BUS_ADDRESS"); bus != "" {
		env = append(env, "DBUS_SYSTEM_BUS_ADDRESS="+bus)
	}
	return env
}

// startEnabled starts the enabled machines in the background, as the
// embedded backend must when berthd starts (with systemd, systemd does it
// at boot). Call it once berthd serves the bus: the machines register
// with it while they start.
func (l *lifecycleService) startEnabled(logger *log.Logger) {
	if l.backend != backendEmbedded {
		return
	}
	go func() {
		if err := l.m.StartEnabled(context.Background()); err != nil {
			logger.Printf("starting enabled machines: %v", err)
		}
	}()
}
