// Package tftest helps tests that run real Terraform.
package tftest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Mirror is the provider filesystem mirror the tests' Terraform runs with: HEARTH_PROVIDER_MIRROR
// (go tool task test sets it), else the repository's .cache/terraform-mirror.
func Mirror(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HEARTH_PROVIDER_MIRROR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", ".cache", "terraform-mirror")
	}
	if _, err := os.Stat(filepath.Join(dir, "registry.terraform.io", "coder", "coder")); err != nil {
		t.Fatalf("no coder provider in %s: run go tool task providers", dir)
	}
	return dir
}

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

// Tar archives a directory's files (not its subdirectories), as a template upload.
func Tar(t testing.TB, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.Name(), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
