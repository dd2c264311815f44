package provisioner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hearthdev/hearth/client"
)

// outbox keeps the results of jobs on the worker's disk until the server acknowledges them, so an
// apply that happened is reported even when the server, its database or the worker itself goes
// away before the answer: a result is written (and synced) before it is first sent, removed once the
// server has it or refuses it, and sent again by a worker that restarts.
type outbox struct{ dir string }

// outcome is one job's result as the worker delivers it: exactly one of Complete and Fail is set.
// It may hold Terraform state (and so the agents' tokens): the file is readable only by the worker.
type outcome struct {
	JobID    int64                                         `json:"job_id"`
	Attempt  int64                                         `json:"attempt"`
	Token    string                                        `json:"token"`
	Complete *client.CompleteProvisionerJobJSONRequestBody `json:"complete,omitempty"`
	Fail     *client.FailProvisionerJobJSONRequestBody     `json:"fail,omitempty"`
}

func (o outbox) path(jobID, attempt int64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%d-%d.json", jobID, attempt))
}

// put stores an outcome durably: written to a temporary file, synced, then renamed into place.
func (o outbox) put(out outcome) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	tmp, err := os.CreateTemp(o.dir, ".pending-*")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.Rename(tmp.Name(), o.path(out.JobID, out.Attempt)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("outbox: %w", err)
	}
	if d, err := os.Open(o.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// remove forgets an outcome the server has answered.
func (o outbox) remove(jobID, attempt int64) error {
	err := os.Remove(o.path(jobID, attempt))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// pending lists the outcomes still to deliver, oldest job first. Files that cannot be read are
// reported in errs and left in place for a person to look at.
func (o outbox) pending() (outs []outcome, errs []error) {
	entries, err := os.ReadDir(o.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{err}
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".pending-") {
			_ = os.Remove(filepath.Join(o.dir, name)) // a write that never completed: never sent
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(o.dir, name))
		var out outcome
		if err == nil {
			err = json.Unmarshal(b, &out)
		}
		if err == nil && (out.Complete == nil) == (out.Fail == nil) {
			err = errors.New("neither or both of complete and fail")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("outbox %s: %w", name, err))
			continue
		}
		outs = append(outs, out)
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i].JobID < outs[j].JobID })
	return outs, errs
}
