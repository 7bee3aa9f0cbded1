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
		if other := r.ledByLocked(e.m.Leader); other != nil {
			r.opts.Log.Printf("warning: skipping state file %s: leader %d already belongs to %s", f.file, e.m.Leader, other.m.Name)
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
	p, err := OpenProcess(rec.Leader)
	if err != nil {
		return nil, err
	}
	if !sameProcess(rec.LeaderID, p.ID) {
		p.Close()
		return nil, fmt.Errorf("PID %d was reused", rec.Leader)
	}
	ns, err := p.nsInode("pid")
	if err != nil {
		p.Close()
		return nil, err
	}
	cg := procCgroup(rec.Leader)
	if !p.Alive() { // so cg is the leader's, not a PID reuser's
		p.Close()
		return nil, fmt.Errorf("PID %d exited", rec.Leader)
	}
	m := rec.Machine
	m.State = StateRunning
	return &entry{leader: p, pidNS: ns, cgroup: r.cg.machineGroup(cg), m: m}, nil
}

// sameProcess compares identities: the pidfs id where both have one, and
// the start time always.
func sameProcess(saved, now Identity) bool {
	if saved.PidfdID != 0 && now.PidfdID != 0 && saved.PidfdID != now.PidfdID {
		return false
	}
	return saved.StartTime == now.StartTime
}
