// Package archive reads template archives (tar or zip) under one set of rules, for the API that
// refuses a dangerous archive at upload and the provisioner worker that extracts it: no absolute
// paths, nothing that climbs out with .., no links or special files, and limits on count and size.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Limits on what a template archive may hold.
const (
	MaxArchiveFiles = 10_000
	MaxFileBytes    = 100 << 20
	MaxTotalBytes   = 512 << 20
)

// Extract writes an archive's regular files and directories under dir. It refuses absolute paths,
// paths that climb out with .., links of any kind, and anything past the limits, so nothing is
// written outside dir. (Symbolic links are refused rather than checked: templates do not need them.)
func Extract(data []byte, contentType, dir string) error {
	return walk(data, contentType, &extractor{dir: dir})
}

// Check applies Extract's rules to an archive without writing anything, reading every entry.
func Check(data []byte, contentType string) error {
	if len(data) == 0 {
		return errors.New("template archive: it is empty")
	}
	return walk(data, contentType, &extractor{})
}

// Read applies Extract's rules to an archive and returns the contents of the files whose names want
// accepts, by their clean slash-separated paths, without writing anything.
func Read(data []byte, contentType string, want func(name string) bool) (map[string][]byte, error) {
	x := &extractor{want: want, read: map[string][]byte{}}
	if err := walk(data, contentType, x); err != nil {
		return nil, err
	}
	return x.read, nil
}

func walk(data []byte, contentType string, x *extractor) error {
	if contentType == "application/zip" {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return fmt.Errorf("template archive: %w", err)
		}
		for _, f := range zr.File {
			if err := x.add(f.Name, f.Mode(), int64(f.UncompressedSize64), f.Open); err != nil { //nolint:gosec // sizes are checked before use
				return err
			}
		}
		return nil
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("template archive: %w", err)
		}
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir:
		default: // hard links read as regular files in FileInfo; refuse them with every other kind
			mode |= fs.ModeIrregular
		}
		if err := x.add(h.Name, mode, h.Size, func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }); err != nil {
			return err
		}
	}
}

// extractor applies the rules to each entry and, with a dir, writes it there.
type extractor struct {
	dir   string // empty: check only (or read)
	want  func(name string) bool
	read  map[string][]byte
	files int
	total int64
}

func (x *extractor) add(name string, mode fs.FileMode, size int64, open func() (io.ReadCloser, error)) error {
	clean := filepath.Clean(filepath.FromSlash(name))
	if filepath.IsAbs(name) || strings.HasPrefix(name, "/") || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("template archive: %q points outside the template", name)
	}
	if clean == "." {
		return nil
	}
	if x.files++; x.files > MaxArchiveFiles {
		return fmt.Errorf("template archive: more than %d files", MaxArchiveFiles)
	}
	target := filepath.Join(x.dir, clean)
	switch {
	case mode.IsDir():
		if x.dir == "" {
			return nil
		}
		return os.MkdirAll(target, 0o755)
	case mode.IsRegular():
	default:
		return fmt.Errorf("template archive: %q is a link or special file; only files and directories are allowed", name)
	}
	if size > MaxFileBytes {
		return fmt.Errorf("template archive: %q is %d MiB; files are limited to %d MiB", name, size>>20, MaxFileBytes>>20)
	}
	if x.total += size; x.total > MaxTotalBytes {
		return fmt.Errorf("template archive: more than %d MiB in all", MaxTotalBytes>>20)
	}
	if x.want != nil && x.want(filepath.ToSlash(clean)) {
		return x.keep(filepath.ToSlash(clean), size, open)
	}
	if x.dir == "" {
		return x.count(name, size, open)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644|(mode&0o111))
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	// Copy one byte more than declared, to notice an entry that lies about its size.
	n, err := io.Copy(f, io.LimitReader(rc, size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	if n > size {
		return fmt.Errorf("template archive: %q is larger than its header says", name)
	}
	return nil
}

// count reads an entry without writing it, to notice one that lies about its size.
func (x *extractor) count(name string, size int64, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(rc, size+1))
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	if n > size {
		return fmt.Errorf("template archive: %q is larger than its header says", name)
	}
	return nil
}

// keep reads an entry into memory.
func (x *extractor) keep(name string, size int64, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return fmt.Errorf("template archive: %q: %w", name, err)
	}
	if int64(len(b)) > size {
		return fmt.Errorf("template archive: %q is larger than its header says", name)
	}
	x.read[name] = b
	return nil
}

// ZipToTar rewrites a zip archive as a tar of its files (the rules of Extract applied), for
// consumers that take only tar.
func ZipToTar(data []byte) ([]byte, error) {
	files, err := Read(data, "application/zip", func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
