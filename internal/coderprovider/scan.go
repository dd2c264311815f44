package coderprovider

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Warning is something in a template's source that Hearth does not honour, where it is.
type Warning struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Construct string `json:"construct" doc:"The block, such as resource \"coder_devcontainer\"."`
	Attribute string `json:"attribute,omitempty" doc:"The attribute or nested block's path, when the warning is about one."`
	Message   string `json:"message"`
}

func (w Warning) String() string {
	what := w.Construct
	if w.Attribute != "" {
		what += " " + w.Attribute
	}
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, what, w.Message)
}

// WorkspaceTag is a tag of data "coder_workspace_tags": a literal value, or the value of a parameter.
type WorkspaceTag struct {
	Key       string `json:"key"`
	Value     string `json:"value,omitempty" doc:"The literal value."`
	Parameter string `json:"parameter,omitempty" doc:"The parameter whose value the tag takes (data.coder_parameter.NAME.value)."`
}

// Source is what a template's Terraform files ask for, read before Terraform runs.
type Source struct {
	Warnings      []Warning      `json:"warnings"`
	WorkspaceTags []WorkspaceTag `json:"workspace_tags"`
}

// IsSource says whether an archive entry is Terraform source the scan reads: .tf files, but not
// those of modules Terraform downloaded into .terraform.
func IsSource(name string) bool {
	return strings.HasSuffix(name, ".tf") && !strings.HasPrefix(name, ".terraform/") && !strings.Contains(name, "/.terraform/")
}

// Scan reads a template's .tf files (name to contents) for the constructs and attributes of the
// coder provider that Hearth does not honour, and for its workspace tags. A file that does not parse
// is left to Terraform, whose import reports it with its diagnostics.
func Scan(files map[string][]byte) Source {
	out := Source{Warnings: []Warning{}, WorkspaceTags: []WorkspaceTag{}}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	labels := map[string]string{} // data.coder_parameter label -> the parameter's name
	for _, name := range names {
		f, diags := hclsyntax.ParseConfig(files[name], name, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			c, ok := construct(b)
			if !ok {
				continue
			}
			out.Warnings = append(out.Warnings, check(name, c, b)...)
			if c.Kind == DataSource && c.Type == "coder_parameter" {
				labels[b.Labels[1]] = b.Labels[1]
				if a, ok := b.Body.Attributes["name"]; ok {
					if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() {
						labels[b.Labels[1]] = v.AsString()
					}
				}
			}
			if c.Kind == DataSource && c.Type == "coder_workspace_tags" {
				tags, warnings := workspaceTags(name, b)
				out.WorkspaceTags = append(out.WorkspaceTags, tags...)
				out.Warnings = append(out.Warnings, warnings...)
			}
		}
	}
	// A tag refers to a parameter block by its label; builds know parameters by their names.
	for i, t := range out.WorkspaceTags {
		if t.Parameter != "" && labels[t.Parameter] != "" {
			out.WorkspaceTags[i].Parameter = labels[t.Parameter]
		}
	}
	return out
}

// construct finds the table's entry for a resource, data or provider block of the coder provider.
// A coder_ type that the table does not know is returned as an unsupported construct.
func construct(b *hclsyntax.Block) (Construct, bool) {
	var kind Kind
	switch {
	case b.Type == "resource" && len(b.Labels) == 2:
		kind = Resource
	case b.Type == "data" && len(b.Labels) == 2:
		kind = DataSource
	case b.Type == "provider" && len(b.Labels) == 1 && b.Labels[0] == "coder":
		c, _ := Lookup(Provider, "coder")
		return c, true
	default:
		return Construct{}, false
	}
	if !strings.HasPrefix(b.Labels[0], "coder_") {
		return Construct{}, false
	}
	if c, ok := Lookup(kind, b.Labels[0]); ok {
		return c, true
	}
	return Construct{Kind: kind, Type: b.Labels[0], Support: Unsupported,
		Note: "Not in coder provider " + Version + ", the version Hearth knows."}, true
}

// check warns about an unsupported construct, or about each unsupported attribute set in it.
func check(file string, c Construct, b *hclsyntax.Block) []Warning {
	at := func(r hcl.Range, attr, msg string) Warning {
		return Warning{File: path.Clean(file), Line: r.Start.Line, Construct: name(c), Attribute: attr, Message: msg}
	}
	if c.Support == Unsupported {
		return []Warning{at(b.DefRange(), "", "not supported by Hearth: "+or(c.Note, "it is ignored."))}
	}
	var out []Warning
	var walk func(body *hclsyntax.Body, prefix string)
	walk = func(body *hclsyntax.Body, prefix string) {
		attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
		for _, a := range body.Attributes {
			attrs = append(attrs, a)
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Line < attrs[j].SrcRange.Start.Line })
		for _, a := range attrs {
			if attr, ok := c.Attr(prefix + a.Name); ok && attr.Support == Unsupported {
				out = append(out, at(a.SrcRange, prefix+a.Name, "not supported by Hearth: "+or(attr.Note, "it is ignored.")))
			}
		}
		for _, nb := range body.Blocks {
			typ := nb.Type
			if typ == "dynamic" && len(nb.Labels) == 1 {
				typ = nb.Labels[0]
				for _, content := range nb.Body.Blocks {
					if content.Type == "content" {
						nb = content
					}
				}
			}
			if attr, ok := c.Attr(prefix + typ); ok && attr.Support == Unsupported {
				out = append(out, at(nb.DefRange(), prefix+typ, "not supported by Hearth: "+or(attr.Note, "it is ignored.")))
				continue
			}
			walk(nb.Body, prefix+typ+".")
		}
	}
	walk(b.Body, "")
	return out
}

// workspaceTags reads data "coder_workspace_tags" { tags = { … } }: each value a literal string or
// a parameter's value. Anything else cannot be known before Terraform runs, so it is warned about
// and left out.
func workspaceTags(file string, b *hclsyntax.Block) ([]WorkspaceTag, []Warning) {
	warn := func(r hcl.Range, msg string) Warning {
		return Warning{File: path.Clean(file), Line: r.Start.Line, Construct: `data "coder_workspace_tags"`, Attribute: "tags", Message: msg}
	}
	var warnings []Warning
	if _, ok := b.Body.Attributes["count"]; ok {
		warnings = append(warnings, warn(b.DefRange(), "count is not evaluated before the build: the tags apply to every build"))
	}
	a, ok := b.Body.Attributes["tags"]
	if !ok {
		return nil, warnings
	}
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, append(warnings, warn(a.SrcRange, "tags must be an object written out, { key = value, … }; these tags are left out"))
	}
	var tags []WorkspaceTag
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || k.Type() != cty.String || !k.IsKnown() {
			warnings = append(warnings, warn(item.KeyExpr.Range(), "a tag's key must be a literal; this tag is left out"))
			continue
		}
		key := k.AsString()
		if v, diags := item.ValueExpr.Value(nil); !diags.HasErrors() && v.IsKnown() && !v.IsNull() {
			if v.Type() != cty.String {
				if s, err := ctyString(v); err == nil {
					tags = append(tags, WorkspaceTag{Key: key, Value: s})
					continue
				}
			} else {
				tags = append(tags, WorkspaceTag{Key: key, Value: v.AsString()})
				continue
			}
		}
		if p := parameterOf(item.ValueExpr); p != "" {
			tags = append(tags, WorkspaceTag{Key: key, Parameter: p})
			continue
		}
		warnings = append(warnings, warn(item.ValueExpr.Range(), fmt.Sprintf(
			"tag %s: its value must be a literal or data.coder_parameter.NAME.value to route builds; this tag is left out", key)))
	}
	return tags, warnings
}

// parameterOf names the parameter of an expression data.coder_parameter.NAME.value.
func parameterOf(e hclsyntax.Expression) string {
	if t, ok := e.(*hclsyntax.TemplateWrapExpr); ok {
		e = t.Wrapped
	}
	trav, diags := hcl.AbsTraversalForExpr(e)
	if diags.HasErrors() || len(trav) != 4 || trav.RootName() != "data" {
		return ""
	}
	var parts []string
	for _, step := range trav[1:] {
		attr, ok := step.(hcl.TraverseAttr)
		if !ok {
			return ""
		}
		parts = append(parts, attr.Name)
	}
	if parts[0] != "coder_parameter" || parts[2] != "value" {
		return ""
	}
	return parts[1]
}

func ctyString(v cty.Value) (string, error) {
	switch v.Type() {
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	}
	return "", fmt.Errorf("not a string")
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
