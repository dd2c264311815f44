package users

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/gitsshkey"
)

// GitSSHKey is the public half of a user's Git SSH key pair.
type GitSSHKey struct {
	PublicKey string    `json:"public_key" doc:"In authorized_keys form: add it to your Git host (GitHub, GitLab, …) as an SSH key."`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GitSSHKeyOutput is a user's public key.
type GitSSHKeyOutput struct {
	Body GitSSHKey
}

func registerGitSSHKey(api huma.API, h handlers) {
	path := "/api/v2/users/{user}/gitsshkey"
	huma.Register(api, huma.Operation{
		OperationID: "get-git-ssh-key",
		Method:      http.MethodGet,
		Path:        path,
		Summary:     "Get a user's Git SSH public key",
		Description: "The public half of the key pair templates get as data.coder_workspace_owner's ssh_public_key and ssh_private_key (made on first use; the private half never leaves the server except into the owner's builds). Yours (user me), or anyone's for user admins.",
		Tags:        []string{"Users"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.getGitSSHKey)
	huma.Register(api, huma.Operation{
		OperationID: "reset-git-ssh-key",
		Method:      http.MethodPut,
		Path:        path,
		Summary:     "Replace a user's Git SSH key pair",
		Description: "Makes a new pair; the old public key stops working wherever it was added once removed there. Workspaces get the new pair at their next start.",
		Tags:        []string{"Users"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.resetGitSSHKey)
}

func toGitSSHKey(k dbsqlc.UserGitSshKey) GitSSHKey {
	return GitSSHKey{PublicKey: k.PublicKey, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
}

func (h handlers) getGitSSHKey(ctx context.Context, in *UserPath) (*GitSSHKeyOutput, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.ReadSelf, authz.ReadUsers)
	if err != nil {
		return nil, err
	}
	k, err := gitsshkey.Get(ctx, h.DB.Queries, h.GitSSHKeys, u.ID)
	if err != nil {
		return nil, err
	}
	return &GitSSHKeyOutput{Body: toGitSSHKey(k)}, nil
}

func (h handlers) resetGitSSHKey(ctx context.Context, in *UserPath) (*GitSSHKeyOutput, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.UpdateSelf, authz.ManageUsers)
	if err != nil {
		return nil, err
	}
	var k dbsqlc.UserGitSshKey
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		old, _ := tx.GetGitSSHKey(ctx, u.ID)
		if k, err = gitsshkey.Reset(ctx, tx.Queries, h.GitSSHKeys, u.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "git_ssh_key", ID: u.ID.String(), Name: u.Username},
			audit.Diff(map[string]string{"public_key": old.PublicKey}, map[string]string{"public_key": k.PublicKey}))
	})
	if err != nil {
		return nil, err
	}
	return &GitSSHKeyOutput{Body: toGitSSHKey(k)}, nil
}
