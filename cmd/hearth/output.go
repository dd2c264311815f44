package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/hearthdev/hearth/client"
)

// Output formats: human tables by default (wide with more columns), JSON and YAML for scripts, with
// the API's own field names.
const (
	formatTable = "table"
	formatWide  = "wide"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// outputFlag adds -o/--output to a command and returns where the choice lands.
func outputFlag(cmd *cobra.Command) *string {
	f := new(string)
	cmd.Flags().StringVarP(f, "output", "o", formatTable, "output format: table, wide, json or yaml")
	return f
}

// render prints v in the chosen format; table prints the human form (wide says whether to add columns).
func render(cmd *cobra.Command, format string, v any, table func(w io.Writer, wide bool)) error {
	out := cmd.OutOrStdout()
	switch format {
	case formatJSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case formatYAML:
		// Through JSON, so YAML has the API's field names and formats.
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := json.Unmarshal(raw, &generic); err != nil {
			return err
		}
		return yaml.NewEncoder(out).Encode(generic)
	case formatTable, formatWide, "":
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		table(w, format == formatWide)
		return w.Flush()
	}
	return usageError{fmt.Errorf("unknown output format %q: want table, wide, json or yaml", format)}
}

// colorful says whether w is a terminal that wants colour (NO_COLOR unset).
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	_, noColor := os.LookupEnv("NO_COLOR")
	return ok && !noColor && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// paint colours a status word for a terminal: green for good, red for failed, yellow for on the way.
func paint(w io.Writer, status string) string {
	if !colorful(w) {
		return status
	}
	code := ""
	switch status {
	case "running", "succeeded", "connected", "ready", "active":
		code = "32"
	case "failed", "canceled", "disconnected", "timeout", "start_error", "suspended":
		code = "31"
	case "pending", "starting", "stopping", "deleting", "canceling", "connecting", "running_job":
		code = "33"
	}
	if code == "" {
		return status
	}
	return "\x1b[" + code + "m" + status + "\x1b[0m"
}

// ago says how long ago t was, the way people read it: "3m ago", "never".
func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := time.Since(*t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// remote wraps a failed call: a problem the API answered is shown as is (its detail and the field at
// fault); a failure to reach the deployment says so.
func remote(s string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*client.Error); ok { //nolint:errorlint // Ok returns it unwrapped
		return err
	}
	return fmt.Errorf("reach %s: %w", s, err)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// confirm asks a yes/no question on a terminal; without one it refuses, unless --yes was given.
func confirm(cmd *cobra.Command, yes bool, question string) error {
	if yes {
		return nil
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return usageError{fmt.Errorf("%s: pass --yes to confirm without a terminal", strings.TrimSuffix(question, "?"))}
	}
	answer, err := prompt(cmd, question+" [y/N] ", false)
	if err != nil {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return usageError{fmt.Errorf("not confirmed")}
	}
	return nil
}

// printDiagnostics prints Terraform's diagnostics the way compilers do: FILE:LINE:COLUMN: severity:
// summary, then the detail indented.
func printDiagnostics(w io.Writer, diags []client.ProvisionerDiagnostic) {
	for _, d := range diags {
		where := ""
		if d.File != nil {
			where = *d.File
			if d.Line != nil && *d.Line > 0 {
				where += fmt.Sprintf(":%d", *d.Line)
				if d.Column != nil && *d.Column > 0 {
					where += fmt.Sprintf(":%d", *d.Column)
				}
			}
			where += ": "
		}
		fmt.Fprintf(w, "%s%s: %s\n", where, d.Severity, d.Summary)
		for _, line := range strings.Split(strings.TrimSpace(deref(d.Detail)), "\n") {
			if line != "" {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
}

// printSource prints what a version's source asks of the coder provider: each thing Hearth does not
// honour, with its file and line, and the workspace tags its builds need.
func printSource(w io.Writer, v *client.TemplateVersion) {
	for _, x := range v.Warnings {
		what := x.Construct
		if x.Attribute != nil {
			what += " " + *x.Attribute
		}
		fmt.Fprintf(w, "%s:%d: warning: %s: %s\n", x.File, x.Line, what, x.Message)
	}
	if len(v.Warnings) > 0 {
		fmt.Fprintln(w, "(--strict refuses a template with warnings.)")
	}
	var tags []string
	for _, t := range v.WorkspaceTags {
		if t.Parameter != nil {
			tags = append(tags, t.Key+"=<parameter "+*t.Parameter+">")
		} else {
			tags = append(tags, t.Key+"="+deref(t.Value))
		}
	}
	if len(tags) > 0 {
		fmt.Fprintf(w, "Workspace tags: builds go only to provisioners tagged %s.\n", strings.Join(tags, ", "))
	}
}
