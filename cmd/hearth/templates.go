package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/examples"
)

func templatesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "templates", Aliases: []string{"template"}, Short: "Write, push and manage templates"}
	cmd.AddCommand(templatesInitCommand(), templatesPushCommand(), templatesListCommand(), templatesVersionsCommand(),
		templatesPullCommand(), templatesDeleteCommand(), templatesAccessCommand())
	return cmd
}

func exampleNames() []string {
	entries, _ := fs.ReadDir(examples.Templates, "templates")
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func templatesInitCommand() *cobra.Command {
	var example string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write an example template into DIR (default: a directory named after the example)",
		Long:  "Examples: " + strings.Join(exampleNames(), ", ") + ". Edit the files, then hearth templates push DIR.",
		Example: `  hearth templates init --example local
  hearth templates init my-template --example docker`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(exampleNames(), example) {
				return usageError{fmt.Errorf("no example %q: choose %s", example, listOr(exampleNames()))}
			}
			dir := example
			if len(args) == 1 {
				dir = args[0]
			}
			if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return fmt.Errorf("%s is not empty: choose a new directory", dir)
			}
			root := "templates/" + example
			err := fs.WalkDir(examples.Templates, root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				target := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, root)))
				if d.IsDir() {
					return os.MkdirAll(target, 0o755) //nolint:gosec // a directory the user asked for
				}
				data, err := examples.Templates.ReadFile(p)
				if err != nil {
					return err
				}
				return os.WriteFile(target, data, 0o644) //nolint:gosec // template sources
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote the %s example to %s. Push it with: hearth templates push %s --name %s\n", example, dir, dir, example)
			return nil
		},
	}
	cmd.Flags().StringVar(&example, "example", "local", "the example: "+strings.Join(exampleNames(), ", "))
	return cmd
}

// tarDir packs a template directory, leaving out Terraform's working files and hidden files.
func tarDir(dir string) ([]byte, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, usageError{fmt.Errorf("%s is not a template directory", dir)}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "terraform.tfstate") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return nil // symlinks and devices are not template sources
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p) //nolint:gosec // the user's template
		if err != nil {
			return err
		}
		files++
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if files == 0 {
		return nil, fmt.Errorf("%s has no files to push", dir)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func templatesPushCommand() *cobra.Command {
	var name, message string
	var variables []string
	var activate, yes, strict bool
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Upload a template directory as a new version, import it and (optionally) make it active",
		Long: `Pack DIR, upload it and import it on a provisioner, printing the import's output and the
parameters it found. The first version of a new template creates the template. A later version
becomes active with --activate (or when confirmed on a terminal); otherwise workspaces keep the
active version until it is promoted.

What the template uses of the coder provider that Hearth does not honour is listed as warnings, with
file and line; --strict refuses such a template instead.`,
		Example: `  hearth templates push examples/templates/local --activate
  hearth templates push ./docker --name docker --variable docker_host=unix:///var/run/docker.sock --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if name == "" {
				abs, _ := filepath.Abs(dir)
				name = filepath.Base(abs)
			}
			vars := []client.TemplateVariableValue{}
			for _, v := range variables {
				k, val, ok := strings.Cut(v, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--variable %q: want NAME=VALUE", v)}
				}
				vars = append(vars, client.TemplateVariableValue{Name: k, Value: val})
			}
			archive, err := tarDir(dir)
			if err != nil {
				return err
			}
			c, s, err := session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out := cmd.ErrOrStderr()
			existing, err := c.GetTemplateWithResponse(ctx, name)
			if err != nil {
				return remote(s.URL, err)
			}
			var templateID *string
			switch existing.StatusCode() {
			case 200:
				templateID = &existing.JSON200.Id
			case 404:
			default:
				if _, err := client.Ok(existing, nil); err != nil {
					return err
				}
			}
			start := time.Now()
			ct := client.UploadFileParamsContentType("application/x-tar")
			up, err := client.Ok(c.UploadFileWithBodyWithResponse(ctx, &client.UploadFileParams{ContentType: &ct}, "application/x-tar", bytes.NewReader(archive)))
			if err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(out, "Uploaded %s (%d KiB) in %.1fs.\n", dir, (len(archive)+1023)/1024, time.Since(start).Seconds())
			body := client.CreateTemplateVersionJSONRequestBody{FileId: up.JSON201.Id, TemplateId: templateID, Variables: &vars, Strict: &strict}
			if message != "" {
				body.Message = &message
			}
			created, err := client.Ok(c.CreateTemplateVersionWithResponse(ctx, body))
			if err != nil {
				return remote(s.URL, err)
			}
			printSource(out, created.JSON201)
			v, err := followImport(cmd, c, created.JSON201.Id, start)
			if err != nil {
				return remote(s.URL, err)
			}
			if v.Status != "succeeded" {
				printDiagnostics(cmd.ErrOrStderr(), v.Diagnostics)
				return fmt.Errorf("the import %s: %s", v.Status, deref(v.Error))
			}
			printParameters(out, v.Parameters)
			if templateID == nil {
				if _, err := client.Ok(c.CreateTemplateWithResponse(ctx, client.CreateTemplateJSONRequestBody{Name: name, VersionId: v.Id})); err != nil {
					return remote(s.URL, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Template %s created with version %s. Create a workspace: hearth create NAME --template %s\n", name, v.Name, name)
				return nil
			}
			if !activate {
				in, ok := cmd.InOrStdin().(*os.File)
				if yes || !ok || !term.IsTerminal(int(in.Fd())) {
					fmt.Fprintf(cmd.OutOrStdout(), "Version %s of %s imported; not active (hearth templates push --activate promotes a version).\n", v.Name, name)
					return nil
				}
				if declined := confirm(cmd, false, "Make "+v.Name+" the active version of "+name+"?"); declined != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "Version %s of %s imported; not active.\n", v.Name, name)
					return nil //nolint:nilerr // declining is an answer, not a failure
				}
			}
			if _, err := client.Ok(c.SetTemplateActiveVersionWithResponse(ctx, name, client.SetTemplateActiveVersionJSONRequestBody{VersionId: v.Id})); err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Version %s is now the active version of %s.\n", v.Name, name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "the template's name (default: the directory's name)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "what changed in this version")
	cmd.Flags().StringArrayVar(&variables, "variable", nil, "a Terraform variable's value, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&activate, "activate", false, "make the new version active once imported")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask anything (a version is not activated without --activate)")
	cmd.Flags().BoolVar(&strict, "strict", false, "refuse the template if it uses anything of the coder provider that Hearth does not honour")
	return cmd
}

// followImport prints an import's output as it comes and returns the version once it is done.
func followImport(cmd *cobra.Command, c *client.ClientWithResponses, id string, start time.Time) (*client.TemplateVersion, error) {
	ctx := cmd.Context()
	out := cmd.ErrOrStderr()
	var after int64
	stage := ""
	deadline := time.Now().Add(30 * time.Minute)
	for {
		v, err := client.Ok(c.GetTemplateVersionWithResponse(ctx, id))
		if err != nil {
			return nil, err
		}
		logs, err := client.Ok(c.GetTemplateVersionLogsWithResponse(ctx, id, &client.GetTemplateVersionLogsParams{After: &after}))
		if err != nil {
			return nil, err
		}
		for _, l := range logs.JSON200.Logs {
			if string(l.Stage) != stage {
				stage = string(l.Stage)
				fmt.Fprintf(out, "==> %s\n", stage)
			}
			fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), l.Output)
			after = l.Id
		}
		switch v.JSON200.Status {
		case "succeeded", "failed", "canceled":
			fmt.Fprintf(out, "Import %s in %.1fs.\n", v.JSON200.Status, time.Since(start).Seconds())
			return v.JSON200, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the import did not finish within 30 minutes")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func printParameters(out io.Writer, params []client.ProvisionerParameter) {
	if len(params) == 0 {
		return
	}
	fmt.Fprintln(out, "Parameters:")
	for _, p := range params {
		line := fmt.Sprintf("  %s (%s)", p.Name, p.Type)
		switch {
		case p.Required:
			line += " required"
		case p.Default != nil:
			line += " default " + *p.Default
		}
		if !p.Mutable {
			line += ", immutable"
		}
		if len(p.Options) > 0 {
			line += ", one of" + optionsHint(p)[len(" (one of"):len(optionsHint(p))-1]
		}
		fmt.Fprintln(out, line)
	}
}

func templatesListCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List templates", Args: cobra.NoArgs}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListTemplatesWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		list := res.JSON200.Templates
		return render(cmd, *format, list, func(w io.Writer, wide bool) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No templates. Start one with: hearth templates init, then hearth templates push DIR")
				return
			}
			fmt.Fprint(w, "NAME\tDISPLAY NAME\tWORKSPACES\tUPDATED")
			if wide {
				fmt.Fprint(w, "\tACTIVE VERSION\tID")
			}
			fmt.Fprintln(w)
			for _, t := range list {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s", t.Name, t.DisplayName, t.WorkspaceCount, ago(&t.UpdatedAt))
				if wide {
					fmt.Fprintf(w, "\t%s\t%s", t.ActiveVersionId, t.Id)
				}
				fmt.Fprintln(w)
			}
		})
	}
	return cmd
}

func templatesVersionsCommand() *cobra.Command {
	var archived bool
	cmd := &cobra.Command{Use: "versions TEMPLATE", Short: "List a template's versions", Args: cobra.ExactArgs(1)}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		t, err := client.Ok(c.GetTemplateWithResponse(ctx, args[0]))
		if err != nil {
			return remote(s.URL, err)
		}
		res, err := client.Ok(c.ListTemplateVersionsWithResponse(ctx, args[0], &client.ListTemplateVersionsParams{IncludeArchived: &archived}))
		if err != nil {
			return remote(s.URL, err)
		}
		list := res.JSON200.Versions
		return render(cmd, *format, list, func(w io.Writer, wide bool) {
			fmt.Fprint(w, "NAME\tSTATUS\tACTIVE\tCREATED\tMESSAGE")
			if wide {
				fmt.Fprint(w, "\tID\tFILE")
			}
			fmt.Fprintln(w)
			for _, v := range list {
				active := ""
				if v.Id == t.JSON200.ActiveVersionId {
					active = "active"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s", v.Name, paint(cmd.OutOrStdout(), string(v.Status)), active, ago(&v.CreatedAt), v.Message)
				if wide {
					fmt.Fprintf(w, "\t%s\t%s", v.Id, v.FileId)
				}
				fmt.Fprintln(w)
			}
		})
	}
	cmd.Flags().BoolVar(&archived, "archived", false, "include archived versions")
	return cmd
}

func templatesPullCommand() *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "pull TEMPLATE [DIR]",
		Short: "Download a template version's files (the active one by default) into DIR, or as a tar to stdout with DIR -",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := client.Ok(c.GetTemplateWithResponse(ctx, args[0]))
			if err != nil {
				return remote(s.URL, err)
			}
			id := t.JSON200.ActiveVersionId
			if version != "" {
				archived := true
				vs, err := client.Ok(c.ListTemplateVersionsWithResponse(ctx, args[0], &client.ListTemplateVersionsParams{IncludeArchived: &archived}))
				if err != nil {
					return remote(s.URL, err)
				}
				id = ""
				for _, v := range vs.JSON200.Versions {
					if v.Name == version || v.Id == version {
						id = v.Id
					}
				}
				if id == "" {
					return fmt.Errorf("template %s has no version %q", args[0], version)
				}
			}
			v, err := client.Ok(c.GetTemplateVersionWithResponse(ctx, id))
			if err != nil {
				return remote(s.URL, err)
			}
			f, err := client.Ok(c.DownloadFileWithResponse(ctx, v.JSON200.FileId))
			if err != nil {
				return remote(s.URL, err)
			}
			dir := t.JSON200.Name
			if len(args) == 2 {
				dir = args[1]
			}
			if dir == "-" {
				_, err := cmd.OutOrStdout().Write(f.Body)
				return err
			}
			if f.HTTPResponse.Header.Get("Content-Type") != "application/x-tar" {
				return fmt.Errorf("version %s was uploaded as %s: pull it with DIR - to get the archive", v.JSON200.Name, f.HTTPResponse.Header.Get("Content-Type"))
			}
			if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return fmt.Errorf("%s is not empty: choose a new directory", dir)
			}
			n, err := untar(f.Body, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %d files of %s %s to %s.\n", n, t.JSON200.Name, v.JSON200.Name, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the version's name or ID (default the active one)")
	return cmd
}

// untar writes a tar's regular files under dir, refusing paths that leave it.
func untar(data []byte, dir string) (int, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("the archive is damaged: %w", err)
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return n, fmt.Errorf("the archive names %q, outside its directory", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil { //nolint:gosec // template sources
				return n, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil { //nolint:gosec // template sources
				return n, err
			}
			body, err := io.ReadAll(io.LimitReader(tr, 50<<20))
			if err != nil {
				return n, err
			}
			if err := os.WriteFile(target, body, 0o644); err != nil { //nolint:gosec // template sources
				return n, err
			}
			n++
		}
	}
}

func templatesDeleteCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete TEMPLATE",
		Short: "Delete a template that no workspace uses",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			if err := confirm(cmd, yes, "Delete template "+args[0]+" and all its versions?"); err != nil {
				return err
			}
			if _, err := client.Ok(c.DeleteTemplateWithResponse(cmd.Context(), args[0])); err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted template %s.\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
