// Package cliconfig keeps the CLI's sign-ins: the deployments it knows by name, each with its URL and
// session token, and which one is current. They live in a file only this user can read (a token must
// be sent as is, so it cannot be hashed). Flags (--deployment, --url, --token) and the environment
// (HEARTH_DEPLOYMENT, HEARTH_URL, HEARTH_SESSION_TOKEN) override it, for scripts and CI that should
// not write files.
package cliconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
)

// Session is a deployment and the token to call it with.
type Session struct {
	// Name is the deployment's name in the config ("" when it came from flags or the environment).
	Name  string `json:"-"`
	URL   string `json:"url"`
	Token string `json:"token"`
}

// File is the config file.
type File struct {
	Current     string             `json:"current"`
	Deployments map[string]Session `json:"deployments"`
}

// Overrides are the command line's --deployment, --url and --token; Load prefers them to the
// environment and the environment to the file.
var Overrides struct{ Deployment, URL, Token string }

// ErrNotSignedIn means there is no session to use.
var ErrNotSignedIn = errors.New("not signed in: run hearth login URL (or set HEARTH_URL and HEARTH_SESSION_TOKEN)")

// Dir is where the CLI keeps its files: HEARTH_CONFIG_DIR, else the user's config directory
// (~/.config/hearth on Linux).
func Dir() (string, error) {
	if d := os.Getenv("HEARTH_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config directory: %w", err)
	}
	return filepath.Join(d, "hearth"), nil
}

func path() (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "config.json"), nil
}

// Read returns the config file's content (empty when there is none).
func Read() (File, error) {
	f := File{Deployments: map[string]Session{}}
	p, err := path()
	if err != nil {
		return f, err
	}
	raw, err := os.ReadFile(p) //nolint:gosec // the user's own config
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("config file %s is damaged (%w); remove it and run hearth login again", p, err)
	}
	if f.Deployments == nil {
		f.Deployments = map[string]Session{}
	}
	for name, s := range f.Deployments {
		s.Name = name
		f.Deployments[name] = s
	}
	return f, nil
}

// Names lists the known deployments.
func (f File) Names() []string {
	names := make([]string, 0, len(f.Deployments))
	for n := range f.Deployments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func write(f File) error {
	p, err := path()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	raw, _ := json.MarshalIndent(f, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// Load returns the session to use: --url and --token (or HEARTH_URL and HEARTH_SESSION_TOKEN) when
// both are given; otherwise the named deployment (--deployment, HEARTH_DEPLOYMENT) or the current one,
// with whichever of URL and token was given replacing its own.
func Load() (Session, error) {
	s := Session{
		URL:   firstOf(Overrides.URL, os.Getenv("HEARTH_URL")),
		Token: firstOf(Overrides.Token, os.Getenv("HEARTH_SESSION_TOKEN"), os.Getenv("HEARTH_TOKEN")),
	}
	if s.URL != "" && s.Token != "" {
		return s, nil
	}
	f, err := Read()
	if err != nil {
		return s, err
	}
	name := firstOf(Overrides.Deployment, os.Getenv("HEARTH_DEPLOYMENT"), f.Current)
	if name == "" {
		return s, ErrNotSignedIn
	}
	saved, ok := f.Deployments[name]
	if !ok {
		return s, fmt.Errorf("no deployment named %q: hearth deployments list shows them", name)
	}
	saved.URL = firstOf(s.URL, saved.URL)
	saved.Token = firstOf(s.Token, saved.Token)
	return saved, nil
}

// DefaultName names a deployment after its URL's host.
func DefaultName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return "default"
	}
	return u.Host
}

// Save stores a deployment's session under s.Name and makes it current.
func Save(s Session) error {
	f, err := Read()
	if err != nil {
		return err
	}
	f.Deployments[s.Name] = s
	f.Current = s.Name
	return write(f)
}

// Use makes a known deployment current.
func Use(name string) error {
	f, err := Read()
	if err != nil {
		return err
	}
	if _, ok := f.Deployments[name]; !ok {
		return fmt.Errorf("no deployment named %q (known: %v)", name, f.Names())
	}
	f.Current = name
	return write(f)
}

// Remove forgets a deployment; when it was current, no deployment is current afterwards.
func Remove(name string) error {
	f, err := Read()
	if err != nil {
		return err
	}
	delete(f.Deployments, name)
	if f.Current == name {
		f.Current = ""
	}
	return write(f)
}
