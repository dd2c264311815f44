package coderprovider

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Dynamic parameters: a template's coder_parameter blocks evaluated against values chosen so far,
// so that options, defaults, validation and even whether a parameter exists (count) follow the
// other parameters, as the user types, without running Terraform. The root module's variables,
// locals, data.coder_parameter, data.coder_workspace and data.coder_workspace_owner are known;
// anything else (resources, other data sources, modules) is not, and a parameter attribute that
// needs it keeps what the import found. The agents' env is evaluated the same way when a prebuilt
// workspace is claimed (no build runs then).

// EvalInput is what a template is evaluated with.
type EvalInput struct {
	Values    map[string]string // chosen so far, by parameter name
	Variables map[string]string // the version's Terraform variable values
	Owner     EvalOwner
	Workspace string // the workspace's name, when known
	// WorkspaceID is the workspace's ID, when it exists.
	WorkspaceID string
	// Claim evaluates for the claim of a prebuilt workspace (data.coder_workspace's
	// is_prebuild_claim is true).
	Claim bool
}

// EvalOwner is the workspace owner as the template sees it.
type EvalOwner struct {
	ID, Name, FullName, Email string
	Groups                    []string
}

// EvalParameter is a parameter as the chosen values make it.
type EvalParameter struct {
	Name        string       `json:"name"`
	DisplayName string       `json:"display_name,omitempty"`
	Description string       `json:"description,omitempty"`
	Type        string       `json:"type"`
	FormType    string       `json:"form_type,omitempty"`
	Default     string       `json:"default,omitempty"`
	Value       string       `json:"value" doc:"The chosen value, else the default."`
	Required    bool         `json:"required"`
	Mutable     bool         `json:"mutable"`
	Order       int64        `json:"order"`
	Options     []EvalOption `json:"options"`
	Min         *int64       `json:"min,omitempty"`
	Max         *int64       `json:"max,omitempty"`
	Regex       string       `json:"regex,omitempty"`
	Error       string       `json:"error,omitempty" doc:"The template's own message for a failed validation."`
	Diagnostics []string     `json:"diagnostics" doc:"What is wrong with the value, or what could not be evaluated."`
	// DefaultUnknown: the default depends on what cannot be known before the build (the import's
	// default stands).
	DefaultUnknown bool `json:"-"`
	// OptionsUnknown: a dynamic option block's for_each cannot be known (the import's options stand).
	OptionsUnknown bool `json:"-"`
}

// EvalOption is one option of a parameter.
type EvalOption struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Parsed is a template's parsed root module, kept to evaluate it many times.
type Parsed struct {
	variables map[string]hcl.Expression // defaults
	locals    map[string]hcl.Expression
	params    []*hclsyntax.Block        // data "coder_parameter"
	owners    []string                  // labels of data "coder_workspace_owner"
	workspace []string                  // labels of data "coder_workspace"
	agentEnv  map[string]hcl.Expression // env of resource "coder_agent", by label
}

// Parse reads the root module's .tf files (those at the top of the archive) for evaluation.
func Parse(files map[string][]byte) *Parsed {
	p := &Parsed{variables: map[string]hcl.Expression{}, locals: map[string]hcl.Expression{}, agentEnv: map[string]hcl.Expression{}}
	names := make([]string, 0, len(files))
	for n := range files {
		if !strings.Contains(n, "/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f, diags := hclsyntax.ParseConfig(files[n], n, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		body, _ := f.Body.(*hclsyntax.Body)
		if body == nil {
			continue
		}
		for _, b := range body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				if a, ok := b.Body.Attributes["default"]; ok {
					p.variables[b.Labels[0]] = a.Expr
				} else {
					p.variables[b.Labels[0]] = nil
				}
			case b.Type == "locals":
				for name, a := range b.Body.Attributes {
					p.locals[name] = a.Expr
				}
			case b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "coder_parameter":
				p.params = append(p.params, b)
			case b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "coder_workspace_owner":
				p.owners = append(p.owners, b.Labels[1])
			case b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "coder_workspace":
				p.workspace = append(p.workspace, b.Labels[1])
			case b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == "coder_agent":
				if a, ok := b.Body.Attributes["env"]; ok {
					p.agentEnv[b.Labels[1]] = a.Expr
				}
			}
		}
	}
	return p
}

// Dynamic says whether any parameter's attributes depend on something else than literals: only then
// is evaluating worth it.
func (p *Parsed) Dynamic() bool {
	for _, b := range p.params {
		var walk func(*hclsyntax.Body) bool
		walk = func(body *hclsyntax.Body) bool {
			for _, a := range body.Attributes {
				if len(a.Expr.Variables()) > 0 {
					return true
				}
			}
			for _, nb := range body.Blocks {
				if nb.Type == "dynamic" || walk(nb.Body) {
					return true
				}
			}
			return false
		}
		if walk(b.Body) {
			return true
		}
	}
	return false
}

var functions = map[string]function.Function{
	"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "chunklist": stdlib.ChunklistFunc, "coalesce": coalesceFunc,
	"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc, "concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc,
	"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc,
	"format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc, "indent": stdlib.IndentFunc, "index": stdlib.IndexFunc,
	"join": stdlib.JoinFunc, "jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc, "keys": stdlib.KeysFunc,
	"length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc, "lower": stdlib.LowerFunc, "max": stdlib.MaxFunc, "merge": stdlib.MergeFunc,
	"min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc, "range": stdlib.RangeFunc, "regex": stdlib.RegexFunc,
	"regexall": stdlib.RegexAllFunc, "replace": stdlib.ReplaceFunc, "reverse": stdlib.ReverseListFunc, "setintersection": stdlib.SetIntersectionFunc,
	"setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "split": stdlib.SplitFunc, "strlen": stdlib.StrlenFunc,
	"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc,
	"trimspace": stdlib.TrimSpaceFunc, "trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc, "values": stdlib.ValuesFunc,
	"zipmap":   stdlib.ZipmapFunc,
	"tostring": convertFunc(cty.String), "tonumber": convertFunc(cty.Number), "tobool": convertFunc(cty.Bool),
	"tolist": convertFunc(cty.List(cty.DynamicPseudoType)), "toset": convertFunc(cty.Set(cty.DynamicPseudoType)),
	"tomap": convertFunc(cty.Map(cty.DynamicPseudoType)),
}

// coalesceFunc is Terraform's coalesce: the first argument that is neither null nor an empty string
// (cty's own skips only nulls).
var coalesceFunc = function.New(&function.Spec{
	VarParam: &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true, AllowNull: true},
	Type:     func(args []cty.Value) (cty.Type, error) { return stdlib.CoalesceFunc.ReturnTypeForValues(args) },
	Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
		for _, a := range args {
			if !a.IsKnown() {
				return cty.UnknownVal(ret), nil
			}
			if a.IsNull() || (a.Type() == cty.String && a.AsString() == "") {
				continue
			}
			return convert.Convert(a, ret)
		}
		return cty.NilVal, errors.New("no non-null, non-empty-string arguments")
	},
})

func convertFunc(to cty.Type) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true}},
		Type: func(args []cty.Value) (cty.Type, error) {
			if to.IsPrimitiveType() {
				return to, nil
			}
			v, err := convert.Convert(args[0], to)
			if err != nil {
				return cty.NilType, err
			}
			return v.Type(), nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) { return convert.Convert(args[0], to) },
	})
}

// Evaluate evaluates every parameter against the input. Values chosen for parameters are fixed; the
// others take their defaults.
func (p *Parsed) Evaluate(in EvalInput) []EvalParameter {
	ctx, names, values := p.context(in)
	out := []EvalParameter{}
	for i, b := range p.params {
		if c, ok := b.Body.Attributes["count"]; ok {
			if v, d := c.Expr.Value(ctx); !d.HasErrors() && v.Type() == cty.Number && v.IsKnown() && v.Equals(cty.NumberIntVal(0)).True() {
				continue // not there for these values
			}
		}
		out = append(out, evalParameter(ctx, b, names[i], values[i], in.Values))
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Order < out[b].Order })
	return out
}

// AgentEnv evaluates the env of each resource "coder_agent" (by its label, which is the agent's
// name) against the input: the entries whose value is known without running Terraform, the way a
// build with this input would write them. An entry that needs anything else (a resource, another
// data source, a module) is left out, as is an agent whose env as a whole cannot be known.
func (p *Parsed) AgentEnv(in EvalInput) map[string]map[string]string {
	out := map[string]map[string]string{}
	if len(p.agentEnv) == 0 {
		return out
	}
	ctx, _, _ := p.context(in)
	for name, expr := range p.agentEnv {
		v, _ := expr.Value(ctx)
		if !v.IsKnown() || v.IsNull() || (!v.Type().IsObjectType() && !v.Type().IsMapType()) {
			continue
		}
		env := map[string]string{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if !e.IsWhollyKnown() || e.IsNull() {
				continue
			}
			if s, err := convert.Convert(e, cty.String); err == nil {
				env[k.AsString()] = s.AsString()
			}
		}
		out[name] = env
	}
	return out
}

// context is the evaluation context of the input, with every parameter's value: chosen, or its
// default (which may depend on chosen ones, so defaults are evaluated until nothing changes).
func (p *Parsed) context(in EvalInput) (*hcl.EvalContext, []string, []cty.Value) {
	ctx := &hcl.EvalContext{Functions: functions, Variables: map[string]cty.Value{}}
	vars := map[string]cty.Value{}
	for name, expr := range p.variables {
		switch {
		case in.Variables[name] != "":
			vars[name] = cty.StringVal(in.Variables[name])
		case expr != nil:
			v, _ := expr.Value(&hcl.EvalContext{Functions: functions})
			vars[name] = v
		default:
			vars[name] = cty.DynamicVal
		}
	}
	ctx.Variables["var"] = cty.ObjectVal(vars)
	groups := make([]cty.Value, len(in.Owner.Groups))
	for i, g := range in.Owner.Groups {
		groups[i] = cty.StringVal(g)
	}
	groupList := cty.ListValEmpty(cty.String)
	if len(groups) > 0 {
		groupList = cty.ListVal(groups)
	}
	owner := cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(in.Owner.ID), "name": cty.StringVal(in.Owner.Name),
		"full_name": cty.StringVal(in.Owner.FullName), "email": cty.StringVal(in.Owner.Email), "groups": groupList})
	owners, workspaces := map[string]cty.Value{}, map[string]cty.Value{}
	for _, l := range p.owners {
		owners[l] = owner
	}
	for _, l := range p.workspace {
		id := cty.UnknownVal(cty.String)
		if in.WorkspaceID != "" {
			id = cty.StringVal(in.WorkspaceID)
		}
		workspaces[l] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(in.Workspace), "transition": cty.StringVal("start"),
			"start_count": cty.NumberIntVal(1), "id": id, "is_prebuild": cty.False, "is_prebuild_claim": cty.BoolVal(in.Claim)})
	}

	// Which block is which parameter: by its name attribute when literal, else by its label.
	names := make([]string, len(p.params))
	for i, b := range p.params {
		names[i] = b.Labels[1]
		if a, ok := b.Body.Attributes["name"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String {
				names[i] = v.AsString()
			}
		}
	}
	values := make([]cty.Value, len(p.params))
	for i := range p.params {
		values[i] = cty.UnknownVal(cty.String)
		if v, ok := in.Values[names[i]]; ok {
			values[i] = cty.StringVal(v)
		}
	}
	setData := func() {
		params := map[string]cty.Value{}
		for i, b := range p.params {
			params[b.Labels[1]] = cty.ObjectVal(map[string]cty.Value{"value": values[i], "name": cty.StringVal(names[i])})
		}
		data := map[string]cty.Value{}
		if len(params) > 0 {
			data["coder_parameter"] = cty.ObjectVal(params)
		}
		if len(owners) > 0 {
			data["coder_workspace_owner"] = cty.ObjectVal(owners)
		}
		if len(workspaces) > 0 {
			data["coder_workspace"] = cty.ObjectVal(workspaces)
		}
		ctx.Variables["data"] = cty.ObjectVal(data)
		locals := map[string]cty.Value{}
		for range 3 { // locals that use locals: a few passes
			for name, expr := range p.locals {
				ctx.Variables["local"] = cty.ObjectVal(locals)
				v, _ := expr.Value(ctx)
				locals[name] = v
			}
		}
		ctx.Variables["local"] = cty.ObjectVal(locals)
	}
	for range len(p.params) + 1 {
		setData()
		changed := false
		for i, b := range p.params {
			if _, chosen := in.Values[names[i]]; chosen {
				continue
			}
			d := attrString(ctx, b.Body, "default")
			next := cty.UnknownVal(cty.String)
			if d != nil {
				next = cty.StringVal(*d)
			}
			if !next.RawEquals(values[i]) {
				values[i], changed = next, true
			}
		}
		if !changed {
			break
		}
	}
	setData()
	return ctx, names, values
}

func evalParameter(ctx *hcl.EvalContext, b *hclsyntax.Block, name string, value cty.Value, chosen map[string]string) EvalParameter {
	ep := EvalParameter{Name: name, Type: "string", Options: []EvalOption{}, Diagnostics: []string{}}
	str := func(attr string) string {
		if s := attrString(ctx, b.Body, attr); s != nil {
			return *s
		}
		return ""
	}
	ep.DisplayName, ep.Description, ep.FormType = str("display_name"), str("description"), str("form_type")
	if t := str("type"); t != "" {
		ep.Type = t
	}
	ep.Mutable = str("mutable") == "true"
	_, hasDefault := b.Body.Attributes["default"]
	switch d := attrString(ctx, b.Body, "default"); {
	case d != nil:
		ep.Default = *d
	case hasDefault:
		ep.DefaultUnknown = true
	default:
		ep.Required = str("optional") != "true"
	}
	if o := str("order"); o != "" {
		_, _ = fmt.Sscan(o, &ep.Order)
	}
	if value.IsKnown() && !value.IsNull() && value.Type() == cty.String {
		ep.Value = value.AsString()
	}
	for _, nb := range b.Body.Blocks {
		switch {
		case nb.Type == "option":
			ep.Options = append(ep.Options, EvalOption{Name: strOf(ctx, nb.Body, "name"), Value: strOf(ctx, nb.Body, "value")})
		case nb.Type == "dynamic" && len(nb.Labels) == 1 && nb.Labels[0] == "option":
			ep.Options = append(ep.Options, dynamicOptions(ctx, nb, &ep)...)
		case nb.Type == "validation":
			if v := attrString(ctx, nb.Body, "min"); v != nil {
				var n int64
				if _, err := fmt.Sscan(*v, &n); err == nil {
					ep.Min = &n
				}
			}
			if v := attrString(ctx, nb.Body, "max"); v != nil {
				var n int64
				if _, err := fmt.Sscan(*v, &n); err == nil {
					ep.Max = &n
				}
			}
			ep.Regex, ep.Error = strOf(ctx, nb.Body, "regex"), strOf(ctx, nb.Body, "error")
		}
	}
	if ep.FormType == "" {
		ep.FormType = defaultFormType(ep.Type, len(ep.Options) > 0)
	}
	if _, ok := chosen[name]; ok && len(ep.Options) > 0 && ep.FormType != "multi-select" {
		found := false
		for _, o := range ep.Options {
			found = found || o.Value == ep.Value
		}
		if !found {
			ep.Diagnostics = append(ep.Diagnostics, fmt.Sprintf("%q is not one of the options these values allow", ep.Value))
		}
	}
	return ep
}

// dynamicOptions expands dynamic "option" { for_each = …; content { … } }.
func dynamicOptions(ctx *hcl.EvalContext, b *hclsyntax.Block, ep *EvalParameter) []EvalOption {
	fe, ok := b.Body.Attributes["for_each"]
	if !ok {
		return nil
	}
	coll, diags := fe.Expr.Value(ctx)
	if diags.HasErrors() || !coll.IsKnown() || coll.IsNull() || !coll.CanIterateElements() {
		ep.Diagnostics = append(ep.Diagnostics, "its options depend on what cannot be known before the build")
		ep.OptionsUnknown = true
		return nil
	}
	iterator := "option"
	if it, ok := b.Body.Attributes["iterator"]; ok {
		if trav, d := hcl.AbsTraversalForExpr(it.Expr); !d.HasErrors() {
			iterator = trav.RootName()
		}
	}
	var content *hclsyntax.Body
	for _, c := range b.Body.Blocks {
		if c.Type == "content" {
			content = c.Body
		}
	}
	if content == nil {
		return nil
	}
	var out []EvalOption
	it := coll.ElementIterator()
	for it.Next() {
		k, v := it.Element()
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{iterator: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		out = append(out, EvalOption{Name: strOf(child, content, "name"), Value: strOf(child, content, "value")})
	}
	return out
}

// defaultFormType is the provider's choice when form_type is left out.
func defaultFormType(typ string, options bool) string {
	switch {
	case options:
		return "radio"
	case typ == "bool":
		return "checkbox"
	case typ == "list(string)":
		return "tag-select"
	}
	return "input"
}

// attrString evaluates an attribute to a string (numbers and bools as Terraform writes them); nil
// when it is absent or cannot be known.
func attrString(ctx *hcl.EvalContext, body *hclsyntax.Body, name string) *string {
	a, ok := body.Attributes[name]
	if !ok {
		return nil
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return nil
	}
	out := s.AsString()
	return &out
}

func strOf(ctx *hcl.EvalContext, body *hclsyntax.Body, name string) string {
	if s := attrString(ctx, body, name); s != nil {
		return *s
	}
	return ""
}
