package spawn

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// DefaultPath is the PATH systemd-nspawn gives the payload.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ContainerName is the value of $container and /run/host/container-manager;
// it is systemd-nspawn's, so guests treat berth containers as nspawn ones.
const ContainerName = "systemd-nspawn"

// NotifySocket is the guest's path of the notify socket.
const NotifySocket = "/run/host/notify"

// hostOSKeys are the host os-release keys exported as container_host_*.
var hostOSKeys = []string{"ID", "VERSION_ID", "BUILD_ID", "VARIANT_ID"}

// baseEnv returns the payload environment that does not depend on the
// user: PATH, container, TERM, container_uuid, NOTIFY_SOCKET, LANG (not for
// an init) and container_host_* from the host's os-release.
func baseEnv(boot bool, uuid, term string, hostOS map[string]string) []string {
	if term == "" {
		term = "vt220"
	}
	env := []string{
		"PATH=" + DefaultPath, "container=" + ContainerName, "TERM=" + term,
		"container_uuid=" + uuid, "NOTIFY_SOCKET=" + NotifySocket,
	}
	if !boot {
		env = append(env, "LANG=C.UTF-8")
	}
	for _, k := range hostOSKeys {
		if v, ok := hostOS[k]; ok {
			env = append(env, "container_host_"+strings.ToLower(k)+"="+v)
		}
	}
	return env
}

// userEnv adds HOME, USER and LOGNAME to base, then applies the -E
// assignments (a later assignment of a name replaces an earlier one).
func userEnv(base []string, home, user string, extra []string) []string {
	env := append([]string(nil), base...)
	env = append(env, "HOME="+home, "USER="+user, "LOGNAME="+user)
	for _, a := range extra {
		env = setEnv(env, a)
	}
	return env
}

// setEnv replaces or appends the NAME=VALUE assignment a.
func setEnv(env []string, a string) []string {
	name, _, _ := strings.Cut(a, "=")
	for i, e := range env {
		if strings.HasPrefix(e, name+"=") {
			env[i] = a
			return env
		}
	}
	return append(env, a)
}

// lookupEnv returns the value of name in env.
func lookupEnv(env []string, name string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// ParseOSRelease reads an os-release file: KEY=VALUE lines, values
// optionally quoted; comments, blank and malformed lines are skipped.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.HasPrefix(line, "#") || strings.ContainsAny(k, " \t") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if u, err := strconv.Unquote(`"` + v[1:len(v)-1] + `"`); err == nil {
				v = u
			} else {
				v = v[1 : len(v)-1]
			}
		}
		out[k] = v
	}
	return out
}
