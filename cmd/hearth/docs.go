package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/hearthdev/hearth/internal/coderprovider"
)

// docsCommand writes docs/cli (go tool task gen): one Markdown page a command, from the command tree;
// and, with --templates, the coder provider's construct table into that document.
func docsCommand() *cobra.Command {
	var templates string
	cmd := &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write the CLI reference as Markdown into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if templates != "" {
				doc, err := os.ReadFile(templates)
				if err != nil {
					return err
				}
				out, err := coderprovider.ReplaceTable(string(doc))
				if err != nil {
					return fmt.Errorf("%s: %w", templates, err)
				}
				if err := os.WriteFile(templates, []byte(out), 0o644); err != nil { //nolint:gosec // documentation
					return err
				}
			}
			dir := args[0]
			old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
			for _, f := range old {
				if err := os.Remove(f); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // documentation
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			link := func(name string) string { return strings.ToLower(name) }
			if err := doc.GenMarkdownTreeCustom(root, dir, func(string) string { return "" }, link); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&templates, "templates", "", "also write the construct table into this document")
	return cmd
}
