// Package ticket serves the public keys that verify the deployment's signed tickets, so components
// without database access (provisioner workers, proxies) can check them.
package ticket

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/tickets"
)

// Deps are what the resource needs.
type Deps struct {
	Signer *tickets.Signer
}

// KeysOutput is a JSON Web Key Set.
type KeysOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Keys []tickets.JWK `json:"keys"`
	}
}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	huma.Register(api, huma.Operation{
		OperationID: "get-ticket-keys",
		Method:      http.MethodGet,
		Path:        "/api/v2/tickets/keys",
		Summary:     "Get the ticket verification keys",
		Description: "The public keys (a JWKS) that verify tickets this deployment signs: job tokens, app and connection tickets. Public; cache for at most a minute.",
		Tags:        []string{"Tickets"},
		Errors:      []int{http.StatusInternalServerError},
	}, func(ctx context.Context, _ *struct{}) (*KeysOutput, error) {
		set, err := d.Signer.KeySet(ctx)
		if err != nil {
			return nil, err
		}
		out := &KeysOutput{CacheControl: "public, max-age=60"}
		out.Body.Keys = set.JWKs()
		return out, nil
	})
}
