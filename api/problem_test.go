package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/require"
)

// A request its client canceled is not a server error; an unexpected error is one, with its text
// kept out of the response.
func TestProblemOfACanceledRequest(t *testing.T) {
	op := &huma.Operation{OperationID: "login"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v2/users/login", nil)
	err := huma.NewErrorWithContext(humatest.NewContext(op, r, httptest.NewRecorder()), http.StatusInternalServerError,
		"unexpected", fmt.Errorf("check password: %w", context.Canceled))
	require.Equal(t, StatusClientClosed, err.GetStatus())

	r = httptest.NewRequest(http.MethodPost, "/api/v2/users/login", nil)
	err = huma.NewErrorWithContext(humatest.NewContext(op, r, httptest.NewRecorder()), http.StatusInternalServerError,
		"unexpected", errors.New("connection refused: secret detail"))
	require.Equal(t, http.StatusInternalServerError, err.GetStatus())
	require.NotContains(t, err.Error(), "secret detail")
	// A canceled context of a request whose client is still there (a server-side timeout) is still a 500.
	err = huma.NewErrorWithContext(humatest.NewContext(op, r, httptest.NewRecorder()), http.StatusInternalServerError,
		"unexpected", context.Canceled)
	require.Equal(t, http.StatusInternalServerError, err.GetStatus())
}
