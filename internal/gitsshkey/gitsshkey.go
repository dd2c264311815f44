// Package gitsshkey keeps each user's Git SSH key pair: made on first use, its private half sealed
// with the deployment's secret key, given to templates as data.coder_workspace_owner's ssh_public_key
// and ssh_private_key, and shown (the public half) by hearth publickey.
package gitsshkey

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/crypto/ssh"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/seal"
)

// Pair is a key pair: the public key in authorized_keys form, the private key in OpenSSH PEM form.
type Pair struct {
	Public  string
	Private []byte
}

// Generate makes a new Ed25519 key pair.
func Generate() (Pair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return Pair{}, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "hearth")
	if err != nil {
		return Pair{}, err
	}
	return Pair{Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), Private: pem.EncodeToMemory(block)}, nil
}

// Get returns a user's key row, making and storing a pair the first time.
func Get(ctx context.Context, q *dbsqlc.Queries, box *seal.Box, user uuid.UUID) (dbsqlc.UserGitSshKey, error) {
	row, err := q.GetGitSSHKey(ctx, user)
	if !errors.Is(db.Translate(err), db.ErrNotFound) {
		return row, err
	}
	p, err := Generate()
	if err != nil {
		return row, err
	}
	r, err := q.InsertGitSSHKeyIfMissing(ctx, dbsqlc.InsertGitSSHKeyIfMissingParams{UserID: user, PublicKey: p.Public,
		PrivateKeySealed: box.Seal(p.Private, user.String())})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		// Another transaction stored the user's first pair while this statement waited on it; the
		// statement's snapshot predates it, the next statement's does not.
		return q.GetGitSSHKey(ctx, user)
	}
	return dbsqlc.UserGitSshKey(r), err
}

// Reset replaces a user's pair with a new one.
func Reset(ctx context.Context, q *dbsqlc.Queries, box *seal.Box, user uuid.UUID) (dbsqlc.UserGitSshKey, error) {
	p, err := Generate()
	if err != nil {
		return dbsqlc.UserGitSshKey{}, err
	}
	return q.ReplaceGitSSHKey(ctx, dbsqlc.ReplaceGitSSHKeyParams{UserID: user, PublicKey: p.Public, PrivateKeySealed: box.Seal(p.Private, user.String())})
}

// Private opens a row's private key.
func Private(box *seal.Box, row dbsqlc.UserGitSshKey) ([]byte, error) {
	b, err := box.Open(row.PrivateKeySealed, row.UserID.String())
	if err != nil {
		return nil, fmt.Errorf("the Git SSH key of user %s: %w", row.UserID, err)
	}
	return b, nil
}
