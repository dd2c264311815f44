// Package seal encrypts what Hearth must keep but never store in plain text (Terraform state with
// agent tokens in it, template variable values) with a key derived from the deployment's secret key.
// Each purpose gets its own key, so a value sealed for one purpose cannot be opened as another.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Box seals and opens values for one purpose.
type Box struct{ aead cipher.AEAD }

// ErrOpen means a value was sealed with another secret key, for another purpose, or changed.
var ErrOpen = errors.New("seal: cannot open the value: it was sealed with a different secret key or altered")

// New makes a box for purpose from the deployment's secret key (at least 16 bytes).
func New(secret []byte, purpose string) (*Box, error) {
	if len(secret) < 16 {
		return nil, errors.New("seal: the secret key is shorter than 16 bytes")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("hearth seal v1\x00" + purpose))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain; context (a row's ID, say) must be given again to open it, so a sealed value
// copied onto another row does not open there.
func (b *Box) Seal(plain []byte, context string) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plain, []byte(context))
}

// Open decrypts what Seal made with the same context.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// Boxes are the boxes of every purpose Hearth seals for.
type Boxes struct {
	// State seals Terraform state (context: the build's ID).
	State *Box
	// Variables seals template variable values (context: the template version's ID).
	Variables *Box
	// GitSSHKeys seals users' Git SSH private keys (context: the user's ID).
	GitSSHKeys *Box
	// OIDCTokens seals users' OIDC access tokens (context: the user's ID).
	OIDCTokens *Box
	// ExternalAuth seals users' external auth tokens (context: the user, the provider and which token).
	ExternalAuth *Box
}

// NewBoxes makes every box from the deployment's secret key.
func NewBoxes(secret []byte) (Boxes, error) {
	state, err := New(secret, "terraform-state")
	if err != nil {
		return Boxes{}, err
	}
	vars, err := New(secret, "template-variables")
	if err != nil {
		return Boxes{}, err
	}
	keys, err := New(secret, "git-ssh-keys")
	if err != nil {
		return Boxes{}, err
	}
	oidc, err := New(secret, "oidc-tokens")
	if err != nil {
		return Boxes{}, err
	}
	ext, err := New(secret, "external-auth-tokens")
	return Boxes{State: state, Variables: vars, GitSSHKeys: keys, OIDCTokens: oidc, ExternalAuth: ext}, err
}
