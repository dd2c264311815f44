package template

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Seed makes template name from the Terraform files in dir, unless a template of that name exists:
// the version is imported by a provisioner worker like any other, and the template is created once
// the import succeeds. It is how `hearth server --template NAME=DIR` (and `go tool task dev`) give a
// new deployment something to create workspaces from.
func Seed(ctx context.Context, d Deps, name, dir string) error {
	if _, err := d.DB.GetTemplateByName(ctx, name); err == nil {
		return nil
	} else if !errors.Is(db.Translate(err), db.ErrNotFound) {
		return err
	}
	archive, err := tarDirectory(dir)
	if err != nil {
		return fmt.Errorf("template %s: %w", name, err)
	}
	sum := sha256.Sum256(archive)
	v := dbsqlc.TemplateVersion{ID: uuid.New()}
	var src coderprovider.Source
	err = d.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.InsertFile(ctx, dbsqlc.InsertFileParams{Hash: sum[:], ContentType: "application/x-tar", Data: archive}); err != nil {
			return err
		}
		var err error
		src, err = scanSource(dbsqlc.File{Data: archive, ContentType: "application/x-tar"}, false)
		if err != nil {
			return err
		}
		warnings, _ := json.Marshal(src.Warnings)
		tags, _ := json.Marshal(src.WorkspaceTags)
		if v, err = tx.InsertTemplateVersion(ctx, dbsqlc.InsertTemplateVersionParams{ID: v.ID, FileHash: sum[:], Tags: []byte("{}"), Name: "v1",
			Message: "from " + dir, Warnings: warnings, WorkspaceTags: tags}); err != nil {
			return err
		}
		return enqueueImport(ctx, d.River, tx, &v, importTags(nil, src))
	})
	if err != nil {
		return fmt.Errorf("template %s: %w", name, err)
	}
	for v.Status == "pending" || v.Status == "running" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if v, err = d.DB.GetTemplateVersion(ctx, v.ID); err != nil {
			return err
		}
	}
	if v.Status != "succeeded" {
		return fmt.Errorf("template %s: the import %s: %s", name, v.Status, v.Error)
	}
	return d.DB.InTx(ctx, func(tx db.Tx) error {
		t := NewTemplate(name, v.ID)
		t.DisplayName = name
		t, err := insert(ctx, tx, t, false)
		if db.IsUniqueViolation(err, "templates_name") {
			return nil // made meanwhile, by another replica or a person
		}
		if err != nil {
			return err
		}
		return tx.AttachTemplateVersion(ctx, dbsqlc.AttachTemplateVersionParams{ID: v.ID, TemplateID: &t.ID})
	})
}

// tarDirectory archives the regular files under dir (hidden ones and .terraform left out).
func tarDirectory(dir string) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel != "." && filepath.Base(rel)[0] == '.' {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path) //nolint:gosec // the operator's own template directory
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("%s has no files", dir)
	}
	return b.Bytes(), nil
}
