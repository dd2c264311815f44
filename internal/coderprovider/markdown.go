package coderprovider

import (
	"fmt"
	"strings"
)

// Markdown is the construct table as Markdown: one section a construct, one row an attribute.
func Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "The table is generated from the construct table in `internal/coderprovider` (provider %s) by `go tool task gen`; "+
		"a test checks it against the provider's own schema.\n\n", Version)
	fmt.Fprintln(&b, "| Construct | State | Notes |")
	fmt.Fprintln(&b, "|---|---|---|")
	for _, c := range Constructs {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", name(c), anchor(c), c.Support, c.Note)
	}
	for _, c := range Constructs {
		fmt.Fprintf(&b, "\n### %s\n\n", name(c))
		if c.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", c.Note)
		}
		fmt.Fprintln(&b, "| Attribute | State | Notes |")
		fmt.Fprintln(&b, "|---|---|---|")
		for _, a := range c.Attrs {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", a.Path, a.Support, strings.ReplaceAll(a.Note, "|", `\|`))
		}
	}
	return b.String()
}

func name(c Construct) string {
	switch c.Kind {
	case Provider:
		return `provider "` + c.Type + `"`
	case DataSource:
		return `data "` + c.Type + `"`
	}
	return `resource "` + c.Type + `"`
}

// anchor is the heading's anchor as GitHub writes it: lower case, punctuation dropped, spaces as -.
func anchor(c Construct) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name(c)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Begin and End mark the generated table in docs/templates.md.
const (
	Begin = "<!-- constructs:begin (generated: go tool task gen) -->"
	End   = "<!-- constructs:end -->"
)

// ReplaceTable puts the table between the markers of a document.
func ReplaceTable(doc string) (string, error) {
	i, j := strings.Index(doc, Begin), strings.Index(doc, End)
	if i < 0 || j < i {
		return "", fmt.Errorf("the document has no %q … %q section", Begin, End)
	}
	return doc[:i+len(Begin)] + "\n" + Markdown() + doc[j:], nil
}
