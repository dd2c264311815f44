// Package apikey makes and checks the secrets that authenticate requests (sign-in sessions and API
// tokens). A token reads hrt_<id>_<secret>: the ID finds the row, and only SHA-256 of the secret is
// stored, so a copy of the database authenticates nobody. The secret has 160 random bits, so a fast
// hash is enough; passwords, which have far less, use the password package instead.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"strings"
)

// Prefix starts every token, so secret scanners can recognise leaked ones.
const Prefix = "hrt_"

var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformed is a token that is not of the form hrt_<id>_<secret>.
var ErrMalformed = errors.New("malformed token: want hrt_<id>_<secret>")

// Key is a new key: the token to hand to the client once, and what is stored.
type Key struct {
	ID         string
	Token      string
	SecretHash []byte
}

// New makes a fresh key.
func New() Key {
	id := random(5)      // 8 characters
	secret := random(20) // 32 characters, 160 bits
	h := sha256.Sum256([]byte(secret))
	return Key{ID: id, Token: Prefix + id + "_" + secret, SecretHash: h[:]}
}

// Parse splits a token into its ID and the hash of its secret.
func Parse(token string) (id string, secretHash []byte, err error) {
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok {
		return "", nil, ErrMalformed
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 8 || len(secret) != 32 {
		return "", nil, ErrMalformed
	}
	h := sha256.Sum256([]byte(secret))
	return id, h[:], nil
}

// Equal compares two secret hashes in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return encoding.EncodeToString(b)
}
