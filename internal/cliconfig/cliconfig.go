// Package cliconfig keeps the CLI's sign-in: which deployment and which session token. It lives in a
// file only this user can read (the token must be sent as is, so it cannot be hashed); HEARTH_URL
// and HEARTH_TOKEN override it, for scripts and CI that should not write files.
package cliconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Session is a deployment and the token to call it with.
type Session struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// ErrNotSignedIn means there is no session to use.
var ErrNotSignedIn = errors.New("not signed in: run hearth login URL (or set HEARTH_URL and HEARTH_TOKEN)")

// Dir is where the CLI keeps its files: HEARTH_CONFIG_DIR, else the user's config directory.
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
	return filepath.Join(d, "session.json"), nil
}

// Load returns the session to use.
func Load() (Session, error) {
	s := Session{URL: os.Getenv("HEARTH_URL"), Token: os.Getenv("HEARTH_TOKEN")}
	if s.URL != "" && s.Token != "" {
		return s, nil
	}
	p, err := path()
	if err != nil {
		return s, err
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, ErrNotSignedIn
	}
	if err != nil {
		return s, fmt.Errorf("session: %w", err)
	}
	var saved Session
	if err := json.Unmarshal(raw, &saved); err != nil || saved.URL == "" || saved.Token == "" {
		return s, fmt.Errorf("session file %s is damaged; run hearth login again", p)
	}
	if s.URL == "" {
		s.URL = saved.URL
	}
	if s.Token == "" {
		s.Token = saved.Token
	}
	return s, nil
}

// Save stores the session, readable only by this user.
func Save(s Session) error {
	p, err := path()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	raw, _ := json.Marshal(s)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// Remove forgets the saved session.
func Remove() error {
	p, err := path()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}
