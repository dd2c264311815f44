package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type entry struct {
	name string
	body string
	typ  byte
	size int64 // declared size when not len(body)
	link string
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typ, Linkname: e.link}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if e.typ != tar.TypeReg && e.typ != 0 {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		require.NoError(t, tw.WriteHeader(h))
		_, _ = tw.Write([]byte(e.body))
	}
	_ = tw.Close()
	return buf.Bytes()
}

func TestExtractRefusesEscapesLinksAndHugeFiles(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		data []byte
		err  string
	}{
		"parent":   {tarOf(t, entry{name: "../../etc/passwd", body: "x"}), "outside the template"},
		"nested":   {tarOf(t, entry{name: "a/../../x", body: "x"}), "outside the template"},
		"absolute": {tarOf(t, entry{name: "/etc/passwd", body: "x"}), "outside the template"},
		"symlink":  {tarOf(t, entry{name: "l", typ: tar.TypeSymlink, link: "/etc"}), "link or special file"},
		"hardlink": {tarOf(t, entry{name: "l", typ: tar.TypeLink, link: "/etc/passwd"}), "link or special file"},
		"2 GB":     {tarHeaderOnly(t, "big.bin", 2<<30), "files are limited to 100 MiB"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dir := filepath.Join(root, "job")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.ErrorContains(t, Check(tc.data, "application/x-tar"), tc.err, "the upload's check refuses it too")
			err := Extract(tc.data, "application/x-tar", dir)
			require.ErrorContains(t, err, tc.err)
			var outside []string
			_ = filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
				if p != root && p != dir && filepath.Dir(p) != dir {
					outside = append(outside, p)
				}
				return nil
			})
			require.Empty(t, outside, "nothing is written outside the job directory")
		})
	}
}

// tarHeaderOnly is an archive whose one entry claims size bytes (the data itself is not there).
func tarHeaderOnly(t *testing.T, name string, size int64) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}))
	return buf.Bytes()
}

func TestExtractWritesTarsAndZips(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, Extract(tarOf(t, entry{name: "main.tf", body: "# tf"}, entry{name: "sub/", typ: tar.TypeDir}, entry{name: "sub/x.sh", body: "echo"}), "application/x-tar", dir))
	b, err := os.ReadFile(filepath.Join(dir, "sub/x.sh"))
	require.NoError(t, err)
	require.Equal(t, "echo", string(b))

	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("main.tf")
	_, _ = w.Write([]byte("# zip"))
	w, _ = zw.Create("../evil")
	_, _ = w.Write([]byte("x"))
	require.NoError(t, zw.Close())
	require.ErrorContains(t, Extract(zbuf.Bytes(), "application/zip", t.TempDir()), "outside the template")
}
