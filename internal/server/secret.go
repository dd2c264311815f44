package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// secretKey reads the deployment's 32-byte secret key (64 hex digits) from path. When the file does not
// exist and create is set (the default path under the data directory), it makes one, readable only by
// this user. Every replica of a deployment needs the same key.
func secretKey(path string, create bool) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		// The data directory must stay traversable (not listable) by others: an embedded PostgreSQL
		// started as root runs as another user and keeps its cluster inside it. The key is 0600.
		if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil { //nolint:gosec // traversal only, see above
			return nil, fmt.Errorf("secret key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		_, err = f.WriteString(hex.EncodeToString(key) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("secret key %s: want 64 hexadecimal digits (32 bytes), as made by: openssl rand -hex 32", path)
	}
	return key, nil
}
