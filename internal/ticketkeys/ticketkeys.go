// Package ticketkeys verifies the deployment's tickets with its public keys alone: the part of the
// tickets package that components without database access (the workspace proxy) link.
package ticketkeys

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Kind says what a ticket is for; it is the token's audience, so one kind is never accepted as another.
type Kind string

// The kinds of ticket.
const (
	KindJob        Kind = "job"        // a provisioner worker's authority over one job
	KindApp        Kind = "app"        // a browser's access to one workspace app, checked by a proxy
	KindConnection Kind = "connection" // an SSH, PTY or port-forward connection to one agent
	KindOIDCState  Kind = "oidc-state" // a browser's OIDC sign-in in progress
	KindLinkState  Kind = "link-state" // a browser's external auth link in progress
	KindRelay      Kind = "relay"      // a replica forwarding a stream to the replica holding an agent's tunnel
	KindModule     Kind = "module"     // Terraform's download of one module version from the module registry
)

// Claims are a ticket's contents: the standard ones (subject, expiry, ID) and what it grants.
type Claims struct {
	jwt.RegisteredClaims
	// Resource is what the ticket is for: a job ID, a workspace app, an agent ID.
	Resource string `json:"res"`
}

// ErrInvalid is a ticket that is malformed, expired, of another kind or not signed by a known key.
var ErrInvalid = errors.New("tickets: invalid or expired ticket")

var errUnknownKey = errors.New("unknown key ID")

// KeySet is a set of public keys by ID: all a verifier needs.
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

// JWK is one public key as a JSON Web Key (RFC 8037, OKP/Ed25519).
type JWK struct {
	KeyType   string `json:"kty" enum:"OKP"`
	Curve     string `json:"crv" enum:"Ed25519"`
	X         string `json:"x" doc:"The public key, base64url."`
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg" enum:"EdDSA"`
	Use       string `json:"use" enum:"sig"`
}

// JWKs returns the set as JSON Web Keys.
func (k *KeySet) JWKs() []JWK {
	out := make([]JWK, 0, len(k.keys))
	for kid, pub := range k.keys {
		out = append(out, JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: kid, Algorithm: "EdDSA", Use: "sig"})
	}
	return out
}

// ParseJWKs builds a key set from JSON Web Keys, as fetched by a component without database access.
func ParseJWKs(keys []JWK) (*KeySet, error) {
	set := New(nil)
	for _, k := range keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.KeyType != "OKP" || k.Curve != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("tickets: key %q is not an Ed25519 public key", k.KeyID)
		}
		set.keys[k.KeyID] = ed25519.PublicKey(x)
	}
	return set, nil
}

// Verify checks a ticket's signature, expiry and kind, and returns its claims.
func (k *KeySet) Verify(ticket string, kind Kind) (*Claims, error) {
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(ticket, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := k.keys[kid]
		if !ok {
			return nil, errUnknownKey
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithAudience(string(kind)),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return claims, nil
}

// New makes a key set of keys by key ID.
func New(keys map[string]ed25519.PublicKey) *KeySet {
	if keys == nil {
		keys = map[string]ed25519.PublicKey{}
	}
	return &KeySet{keys: keys}
}
