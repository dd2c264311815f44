// Package password hashes and checks passwords with argon2id, in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash) so parameters can change without breaking old hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Parameters: OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane).
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	keyLen    = 32
)

// MinLength and MaxLength bound a password's length in bytes.
const (
	MinLength = 8
	MaxLength = 256
)

// ErrMalformedHash is a stored hash this package cannot read.
var ErrMalformedHash = errors.New("password: malformed hash")

// Validate says what is wrong with a new password, or nil.
func Validate(pw string) error {
	if len(pw) < MinLength {
		return fmt.Errorf("must be at least %d characters", MinLength)
	}
	if len(pw) > MaxLength {
		return fmt.Errorf("must be at most %d characters", MaxLength)
	}
	return nil
}

// Hash hashes pw with a fresh salt.
func Hash(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, lanes, b64(salt), b64(key))
}

// Check reports whether pw matches hash.
func Check(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, ErrMalformedHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false, ErrMalformedHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummy is checked against when a user is unknown, so that answers take as long as for known users.
// It is made on first use, not at start: a hash costs ~66 ms and ~19 MB, which every command of the
// binary (the CLI, the agent) would otherwise pay.
var dummy = sync.OnceValue(func() string { return Hash("unknown-user-placeholder") })

// CheckNothing spends the time of one Check, for unknown users.
func CheckNothing(pw string) { _, _ = Check(dummy(), pw) }
