// Package tftest helps tests that run real Terraform.
package tftest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// SlowModule returns a main.tf whose terraform init hangs downloading a module from a loopback
// server until the test ends (then the download fails): a job that runs for as long as a test
// needs, to kill or cancel it midway.
func SlowModule(t testing.TB) string {
	t.Helper()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	return fmt.Sprintf("module \"slow\" {\n  source = %q\n}\n", slow.URL+"/module.tar.gz")
}
