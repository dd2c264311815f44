package provisioner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hearthdev/hearth/client"
)

// The init cache keeps what `terraform init` made for a template version — the .terraform directory
// (providers copied from the mirror, modules downloaded from the registry) and the lock file — so the
// jobs after the first skip init: it copies every provider (the docker provider alone is 76 MB) and
// asks the module registry each time. An entry is keyed by everything init depends on: the template's
// archive, the CLI configuration (mirrors, direct installation, module hosts) and the providers in the
// mirrors. A job links its .terraform to the entry, which it only reads.

const (
	// maxInitCacheEntries bounds the cache; the oldest unused entries beyond it are removed.
	maxInitCacheEntries = 64
	// initCacheInUse is how recently an entry must have been used to be safe from removal (a job may
	// still be running with it).
	initCacheInUse = time.Hour
	lockFile       = ".terraform.lock.hcl"
)

// initKey is the cache key of a job's init.
func (r *Runner) initKey(j *client.ProvisionerJob) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", j.Template.ContentType, r.cliConfig(), strings.Join(j.ModuleHosts, ","))
	h.Write(j.Template.Archive)
	for _, m := range r.Mirrors {
		// The providers' files, with sizes and times: a rebuilt provider is a new entry.
		files, _ := filepath.Glob(filepath.Join(m, "*", "*", "*", "*", "*", "*"))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				fmt.Fprintf(h, "%s %d %d\x00", f, st.Size(), st.ModTime().UnixNano())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// useInitCache links the job's .terraform to the cached entry of its key, if there is one, and
// restores the lock file; true when the job can skip init.
func (x *job) useInitCache() bool {
	if x.r.InitCache == "" {
		return false
	}
	entry := filepath.Join(x.r.InitCache, x.key)
	if _, err := os.Stat(filepath.Join(entry, "data")); err != nil {
		return false
	}
	if lock, err := os.ReadFile(filepath.Join(entry, "lock.hcl")); err == nil {
		if _, err := os.Stat(filepath.Join(x.src, lockFile)); os.IsNotExist(err) {
			if os.WriteFile(filepath.Join(x.src, lockFile), lock, 0o600) != nil {
				return false
			}
		}
	}
	if os.Symlink(filepath.Join(entry, "data"), filepath.Join(x.src, ".terraform")) != nil {
		return false
	}
	x.entry = entry
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
	return true
}

// saveInitCache moves what init made into the cache under the job's key and links the job's
// .terraform to it. Another job of the same key may have saved first: then its entry is used.
func (x *job) saveInitCache() {
	if x.r.InitCache == "" {
		return
	}
	data := filepath.Join(x.src, ".terraform")
	if st, err := os.Lstat(data); err != nil || !st.IsDir() {
		return // init made nothing to keep (a template with no providers and no modules)
	}
	if err := os.MkdirAll(x.r.InitCache, 0o700); err != nil {
		return
	}
	tmp, err := os.MkdirTemp(x.r.InitCache, "tmp-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	if lock, err := os.ReadFile(filepath.Join(x.src, lockFile)); err == nil {
		if os.WriteFile(filepath.Join(tmp, "lock.hcl"), lock, 0o600) != nil {
			return
		}
	}
	// Terraform links providers from a mirror with relative links, which a move would break.
	if absoluteLinks(data) != nil {
		return
	}
	if os.Rename(data, filepath.Join(tmp, "data")) != nil {
		return
	}
	entry := filepath.Join(x.r.InitCache, x.key)
	if os.Rename(tmp, entry) != nil {
		if _, err := os.Stat(filepath.Join(entry, "data")); err != nil {
			_ = os.Rename(filepath.Join(tmp, "data"), data) // put it back: this job goes on without the cache
			return
		}
		// Another job saved the same first: use its entry and drop this one (deferred).
	}
	if os.Symlink(filepath.Join(entry, "data"), data) != nil {
		return
	}
	x.entry = entry
	x.r.trimInitCache()
}

// absoluteLinks rewrites every relative symbolic link under dir as an absolute one to the same place.
func absoluteLinks(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink == 0 {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil || filepath.IsAbs(target) {
			return err
		}
		abs := filepath.Join(filepath.Dir(p), target)
		if err := os.Remove(p); err != nil {
			return err
		}
		return os.Symlink(abs, p)
	})
}

// References are what each resource's configuration refers to (how apps and scripts find their
// agent), from the plan's configuration: the same for every build of a template version, so they are
// kept with its init cache entry, and a build that finds them needs no separate plan.
func (x *job) cachedReferences() (map[string][]string, bool) {
	if x.entry == "" {
		return nil, false
	}
	raw, err := os.ReadFile(filepath.Join(x.entry, "references.json"))
	if err != nil {
		return nil, false
	}
	var refs map[string][]string
	if json.Unmarshal(raw, &refs) != nil {
		return nil, false
	}
	return refs, true
}

func (x *job) saveReferences(refs map[string][]string) {
	if x.entry == "" {
		return
	}
	raw, err := json.Marshal(refs)
	if err != nil {
		return
	}
	tmp := filepath.Join(x.entry, fmt.Sprintf("references.json.%d", os.Getpid()))
	if os.WriteFile(tmp, raw, 0o600) == nil {
		_ = os.Rename(tmp, filepath.Join(x.entry, "references.json"))
	}
}

// trimInitCache removes the oldest entries beyond maxInitCacheEntries that no job used within
// initCacheInUse, and leftovers of saves that did not finish.
func (r *Runner) trimInitCache() {
	entries, err := os.ReadDir(r.InitCache)
	if err != nil {
		return
	}
	type aged struct {
		path string
		used time.Time
	}
	var all []aged
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() {
			continue
		}
		p := filepath.Join(r.InitCache, e.Name())
		if strings.HasPrefix(e.Name(), "tmp-") {
			if time.Since(info.ModTime()) > initCacheInUse {
				_ = os.RemoveAll(p)
			}
			continue
		}
		all = append(all, aged{p, info.ModTime()})
	}
	if len(all) <= maxInitCacheEntries {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.After(all[j].used) })
	for _, a := range all[maxInitCacheEntries:] {
		if time.Since(a.used) > initCacheInUse {
			_ = os.RemoveAll(a.path)
		}
	}
}
