// Package tickets signs and checks short-lived tickets: JWTs (EdDSA, with a kid) that carry authority to
// components without database access — a provisioner worker's job token, a proxy's app or connection
// ticket. The control plane signs with keys kept in PostgreSQL, their private halves sealed with the
// deployment's secret key; anyone verifies with the public keys alone (KeySet, served as a JWKS).
//
// Keys rotate: a rotated key stops signing at once and keeps verifying for a grace period longer than
// any ticket lives, so tickets in flight stay valid.
package tickets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/ticketkeys"
)

// MaxTTL bounds a ticket's lifetime; rotated keys verify for MaxTTL plus the refresh interval.
const MaxTTL = time.Hour

// refreshEvery is how often a signer rereads the keys, noticing rotations made by other replicas.
const refreshEvery = time.Minute

// The ticket kinds and a ticket's contents, as ticketkeys (which verifiers without a database use)
// defines them.
type (
	Kind   = ticketkeys.Kind
	Claims = ticketkeys.Claims
	KeySet = ticketkeys.KeySet
	JWK    = ticketkeys.JWK
)

// The kinds of ticket.
const (
	KindJob        = ticketkeys.KindJob
	KindApp        = ticketkeys.KindApp
	KindConnection = ticketkeys.KindConnection
	KindOIDCState  = ticketkeys.KindOIDCState
	KindLinkState  = ticketkeys.KindLinkState
	KindRelay      = ticketkeys.KindRelay
	KindModule     = ticketkeys.KindModule
)

// ParseJWKs builds a key set from JSON Web Keys.
var ParseJWKs = ticketkeys.ParseJWKs

// Errors.
var (
	ErrInvalid      = ticketkeys.ErrInvalid
	ErrSecretKey    = errors.New("tickets: the signing keys were sealed with a different secret key; give every replica the same secret key")
	errShortSecret  = errors.New("tickets: the secret key must be 32 bytes")
	errTTLTooLong   = fmt.Errorf("tickets: a ticket lives at most %s", MaxTTL)
	errNoSigningKey = errors.New("tickets: no signing key")
)

// Signer signs tickets with the deployment's current key.
type Signer struct {
	db     *db.DB
	aead   cipher.AEAD
	local  []byte // the HMAC key of tickets only the control plane checks
	issuer string
	now    func() time.Time

	mu      sync.Mutex
	signing *signingKey
	public  *KeySet
	loaded  time.Time
}

type signingKey struct {
	kid string
	key ed25519.PrivateKey
}

// NewSigner loads the signing keys, making the first one if there is none. secret is the deployment's
// 32-byte secret key; issuer names the deployment (its access URL).
func NewSigner(ctx context.Context, d *db.DB, secret []byte, issuer string) (*Signer, error) {
	if len(secret) != 32 {
		return nil, errShortSecret
	}
	block, _ := aes.NewCipher(secret) // 32 bytes is a valid AES-256 key
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("hearth local tickets v1"))
	s := &Signer{db: d, aead: aead, local: mac.Sum(nil), issuer: issuer, now: time.Now}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Sign issues a ticket of kind for resource to subject, valid for ttl (at most MaxTTL).
func (s *Signer) Sign(ctx context.Context, kind Kind, subject, resource string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxTTL {
		return "", errTTLTooLong
	}
	s.mu.Lock()
	stale := s.now().Sub(s.loaded) > refreshEvery
	s.mu.Unlock()
	if stale {
		if err := s.refresh(ctx); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	k := s.signing
	s.mu.Unlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, s.claims(kind, subject, resource, ttl))
	tok.Header["kid"] = k.kid
	return tok.SignedString(k.key)
}

// SignLocal signs a ticket that only the control plane checks (a provisioner worker's job token):
// with HMAC-SHA256 (HS256), keyed from the deployment's secret key that every replica has, instead of
// the rotating Ed25519 keys. An Ed25519 signature and its check cost 0.15 ms of CPU, paid on every
// job; HMAC costs microseconds. Such tickets verify only with VerifyLocal, never with a KeySet.
func (s *Signer) SignLocal(kind Kind, subject, resource string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxTTL {
		return "", errTTLTooLong
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, s.claims(kind, subject, resource, ttl)).SignedString(s.local)
}

// claims are a new ticket's contents, valid from now for ttl.
func (s *Signer) claims(kind Kind, subject, resource string, ttl time.Duration) Claims {
	now := s.now()
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.issuer, Subject: subject, Audience: jwt.ClaimStrings{string(kind)},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: rand.Text(),
		},
		Resource: resource,
	}
}

// VerifyLocal checks a ticket that SignLocal made, and that it is of kind.
// A ticket up to grace past its expiry still verifies, for the callers that fence by other means.
// The issuer is not checked: the key is the deployment's, and replicas reached at different access
// URLs (each its own, with no load balancer in front) take each other's tickets — a worker whose
// replica dies sends its job's logs and result to another.
func (s *Signer) VerifyLocal(ticket string, kind Kind, grace time.Duration) (*Claims, error) {
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(ticket, claims, func(*jwt.Token) (any, error) { return s.local, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithAudience(string(kind)),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(5*time.Second+grace), jwt.WithTimeFunc(s.now))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return claims, nil
}

// KeySet returns the public keys that verify this deployment's tickets now.
func (s *Signer) KeySet(ctx context.Context) (*KeySet, error) {
	s.mu.Lock()
	stale := s.now().Sub(s.loaded) > refreshEvery
	s.mu.Unlock()
	if stale {
		if err := s.refresh(ctx); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.public, nil
}

// Rotate makes a new signing key; the old ones verify for MaxTTL plus the refresh interval more.
// Rotated keys past that are deleted.
func (s *Signer) Rotate(ctx context.Context) error {
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		if err := tx.LockSigningKeys(ctx); err != nil {
			return err
		}
		if err := tx.RotateSigningKeys(ctx, (MaxTTL + 2*refreshEvery).Seconds()); err != nil {
			return err
		}
		if _, err := tx.DeleteRetiredSigningKeys(ctx); err != nil {
			return err
		}
		return s.insert(ctx, tx.Queries)
	})
	if err != nil {
		return fmt.Errorf("tickets: rotate: %w", err)
	}
	return s.refresh(ctx)
}

// CurrentKeyAge is how long the current signing key has signed, for scheduled rotation.
func (s *Signer) CurrentKeyAge(ctx context.Context) (time.Duration, error) {
	rows, err := s.db.ListSigningKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("tickets: %w", err)
	}
	for _, r := range rows {
		if r.RotatedAt == nil {
			return s.now().Sub(r.CreatedAt), nil
		}
	}
	return 0, errNoSigningKey
}

func (s *Signer) refresh(ctx context.Context) error {
	rows, err := s.db.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("tickets: load keys: %w", err)
	}
	if !hasCurrent(rows) {
		err := s.db.InTx(ctx, func(tx db.Tx) error {
			if err := tx.LockSigningKeys(ctx); err != nil {
				return err
			}
			again, err := tx.ListSigningKeys(ctx)
			if err != nil || hasCurrent(again) {
				return err
			}
			return s.insert(ctx, tx.Queries)
		})
		if err != nil {
			return fmt.Errorf("tickets: create a key: %w", err)
		}
		if rows, err = s.db.ListSigningKeys(ctx); err != nil {
			return fmt.Errorf("tickets: load keys: %w", err)
		}
	}
	public := map[string]ed25519.PublicKey{}
	var signing *signingKey
	for _, r := range rows {
		public[r.Kid] = ed25519.PublicKey(r.PublicKey)
		if r.RotatedAt == nil && signing == nil {
			seed, err := s.aead.Open(nil, r.SealedKey[:s.aead.NonceSize()], r.SealedKey[s.aead.NonceSize():], []byte(r.Kid))
			if err != nil {
				return ErrSecretKey
			}
			signing = &signingKey{kid: r.Kid, key: ed25519.NewKeyFromSeed(seed)}
		}
	}
	s.mu.Lock()
	s.signing, s.public, s.loaded = signing, ticketkeys.New(public), s.now()
	s.mu.Unlock()
	return nil
}

func hasCurrent(rows []dbsqlc.SigningKey) bool {
	for _, r := range rows {
		if r.RotatedAt == nil {
			return true
		}
	}
	return false
}

func (s *Signer) insert(ctx context.Context, q *dbsqlc.Queries) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	kid := rand.Text()[:16]
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, priv.Seed(), []byte(kid))
	return q.InsertSigningKey(ctx, dbsqlc.InsertSigningKeyParams{Kid: kid, Algorithm: "EdDSA", PublicKey: pub, SealedKey: sealed})
}
