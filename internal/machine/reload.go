package machine

import "fmt"

// reload brings back the machines of the state files whose leader is
// still the same process, removes the files of dead machines and skips
// bad files with a warning.
func (r *Registry) reload() error {
	files, err := r.store.load()
	if err != nil {
		return err
	}
	var live []*entry
	for _, f := range files {
		if f.err != nil {
			r.opts.Log.Printf("warning: skipping state file: %v", f.err)
			continue
		}
		e, err := r.revive(f.rec)
		if err != nil {
			r.opts.Log.Printf("machine %s is gone (%v), cleaning up", f.rec.Name, err)
			if err := r.store.remove(f.file); err != nil {
				r.opts.Log.Printf("warning: %v", err)
			}
			continue
		}
		if other := r.ledByLocked(e.leader.PID); other != nil {
			r.opts.Log.Printf("warning: skipping state file %s: leader %d already belongs to %s", f.file, e.leader.PID, other.name())
			e.leader.Close()
			continue
		}
		r.addLocked(e)
		live = append(live, e)
	}
	for _, e := range live {
		if err := r.watcher.add(e); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
	}
	return nil
}

// revive validates a record and takes hold of its leader if the process
// with that PID is still the one that registered.
func (r *Registry) revive(rec record) (*entry, error) {
	if err := rec.Spec.Validate(r.opts.Self); err != nil {
		return nil, err
	}
	if len(rec.Unit) > MaxPathLen {
		return nil, fmt.Errorf("unit name of %d bytes: %w", len(rec.Unit), ErrInvalid)
	}
	e := r.dense.entry()
	if err := e.leader.open(rec.Leader); err != nil {
		return nil, err
	}
	cgroup, err := r.reviveLeader(e, rec)
	if err != nil {
		e.leader.Close()
		return nil, err
	}
	m := rec.Machine
	m.State = StateRunning
	m.Spec = m.own()
	r.dense.keep(e, m, cgroup)
	return e, nil
}

// reviveLeader checks that e's leader is the process of rec, sets e's
// PID namespace and returns the machine's own cgroup.
func (r *Registry) reviveLeader(e *entry, rec record) (string, error) {
	if !sameProcess(rec.LeaderID, e.leader.ID) {
		return "", fmt.Errorf("PID %d was reused", rec.Leader)
	}
	ns, err := e.leader.nsInode("pid")
	if err != nil {
		return "", err
	}
	var buf [1024]byte
	cg := procCgroup(rec.Leader, buf[:])
	if !e.leader.Alive() { // so cg is the leader's, not a PID reuser's
		return "", fmt.Errorf("PID %d exited", rec.Leader)
	}
	e.pidNS = ns
	return r.cg.machineGroup(cg), nil
}

// sameProcess compares identities: the pidfs id where both have one, and
// the start time always.
func sameProcess(saved, now Identity) bool {
	if saved.PidfdID != 0 && now.PidfdID != 0 && saved.PidfdID != now.PidfdID {
		return false
	}
	return saved.StartTime == now.StartTime
}
