package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A layer is a set of entries written as a tar in path order, every one with the same time and
// numeric owners, so the same files always make the same layer.
type layer struct {
	epoch   time.Time
	entries []entry
}

type entry struct {
	path    string
	mode    int64
	owner   int
	kind    byte   // tar.TypeReg, TypeDir, TypeSymlink, TypeLink
	source  string // a file to copy, for TypeReg without content
	content []byte
	target  string // a link's
}

func (l *layer) file(path, source string, mode int64) {
	l.entries = append(l.entries, entry{path: path, mode: mode, kind: tar.TypeReg, source: source})
}

func (l *layer) content(path, content string, mode int64) {
	l.entries = append(l.entries, entry{path: path, mode: mode, kind: tar.TypeReg, content: []byte(content)})
}

func (l *layer) dir(path string, mode int64, owner int) {
	l.entries = append(l.entries, entry{path: path, mode: mode, owner: owner, kind: tar.TypeDir})
}

func (l *layer) symlink(path, target string) {
	l.entries = append(l.entries, entry{path: path, mode: 0o777, kind: tar.TypeSymlink, target: target})
}

// tree adds every file under src at dst, keeping each file's permission bits (links are refused: a
// mirror holds plain files). A file with the same content as one added before becomes a hard link
// to it: a mirror holds each provider twice (registry.terraform.io and registry.opentofu.org).
func (l *layer) tree(dst, src string) error {
	seen := map[[32]byte]string{}
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		at := filepath.ToSlash(filepath.Join(dst, rel))
		switch {
		case info.IsDir():
			l.dir(at, 0o755, 0)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			if first, ok := seen[sum]; ok {
				l.entries = append(l.entries, entry{path: at, mode: int64(info.Mode().Perm()), kind: tar.TypeLink, target: first})
				return nil
			}
			seen[sum] = at
			l.file(at, p, int64(info.Mode().Perm()))
		default:
			return fmt.Errorf("%s: not a plain file or directory", p)
		}
		return nil
	})
}

// build writes the layer's tar, with the parent directories of every entry.
func (l *layer) build() (v1.Layer, error) {
	all := map[string]entry{}
	for _, e := range l.entries {
		for d := filepath.Dir(e.path); d != "/" && d != "."; d = filepath.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = entry{path: d, mode: 0o755, kind: tar.TypeDir}
			}
		}
		all[e.path] = e
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		e := all[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: e.mode, Uid: e.owner, Gid: e.owner, ModTime: l.epoch,
			Typeflag: e.kind, Format: tar.FormatPAX}
		if e.kind == tar.TypeDir {
			h.Name += "/"
		}
		var body io.Reader
		switch e.kind {
		case tar.TypeSymlink:
			h.Linkname = e.target
		case tar.TypeLink:
			h.Linkname = strings.TrimPrefix(e.target, "/")
		case tar.TypeReg:
			data := e.content
			if e.source != "" {
				b, err := os.ReadFile(e.source)
				if err != nil {
					return nil, err
				}
				data = b
			}
			h.Size = int64(len(data))
			body = bytes.NewReader(data)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
}
