package provisioner

import (
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hearthdev/hearth/internal/client"
)

// parseImport reads a template's parameters, variables, resources, agents and apps from its plan.
// Agents are attached to the resources whose configuration refers to them (their id, token or init
// script), from the plan's configuration references rather than `terraform graph`, which would cost
// another Terraform run.
func parseImport(plan *tfjson.Plan) *client.ProvisionerImportResult {
	out := &client.ProvisionerImportResult{Parameters: []client.ProvisionerParameter{}, Variables: []client.ProvisionerTemplateVariable{},
		Resources: []client.ProvisionerResource{}}
	for _, r := range allResources(plan) {
		if r.Mode == tfjson.DataResourceMode && r.Type == "coder_parameter" {
			out.Parameters = append(out.Parameters, parameter(r.AttributeValues))
		}
	}
	sort.SliceStable(out.Parameters, func(i, j int) bool { return out.Parameters[i].Order < out.Parameters[j].Order })

	if plan.Config != nil && plan.Config.RootModule != nil {
		names := make([]string, 0, len(plan.Config.RootModule.Variables))
		for n := range plan.Config.RootModule.Variables {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := plan.Config.RootModule.Variables[n]
			tv := client.ProvisionerTemplateVariable{Name: n, Sensitive: v.Sensitive, Required: v.Default == nil, Type: "string"}
			if v.Description != "" {
				tv.Description = ptr(v.Description)
			}
			if v.Default != nil && !v.Sensitive {
				tv.Default = ptr(fmt.Sprint(v.Default))
			}
			out.Variables = append(out.Variables, tv)
		}
	}

	// Agents and apps, from the planned values; who refers to whom, from the configuration.
	agents := map[string]*client.ProvisionerAgent{}
	var agentOrder []string
	var apps []struct {
		agent string
		app   client.ProvisionerApp
	}
	refs := configReferences(plan)
	var resources []*tfjson.StateResource
	for _, r := range allResources(plan) {
		if r.Mode != tfjson.ManagedResourceMode {
			continue
		}
		switch r.Type {
		case "coder_agent":
			if _, ok := agents[r.Name]; !ok {
				agents[r.Name] = &client.ProvisionerAgent{Name: r.Name, Os: str(r.AttributeValues["os"]), Arch: str(r.AttributeValues["arch"]), Apps: []client.ProvisionerApp{}}
				agentOrder = append(agentOrder, r.Name)
			}
		case "coder_app":
			app := client.ProvisionerApp{Slug: str(r.AttributeValues["slug"]), Subdomain: r.AttributeValues["subdomain"] == true}
			app.DisplayName, app.Url, app.Command, app.Share = optStr(r.AttributeValues["display_name"]), optStr(r.AttributeValues["url"]),
				optStr(r.AttributeValues["command"]), optStr(r.AttributeValues["share"])
			apps = append(apps, struct {
				agent string
				app   client.ProvisionerApp
			}{firstAgent(refs["coder_app."+r.Name]), app})
		default:
			if !strings.HasPrefix(r.Type, "coder_") {
				resources = append(resources, r)
			}
		}
	}
	for _, a := range apps {
		if ag, ok := agents[a.agent]; ok {
			ag.Apps = append(ag.Apps, a.app)
		}
	}
	attached := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range resources {
		key := r.Type + "." + r.Name
		if seen[key] { // count and for_each instances are one resource here
			continue
		}
		seen[key] = true
		res := client.ProvisionerResource{Type: r.Type, Name: r.Name, Agents: []client.ProvisionerAgent{}}
		for _, name := range agentOrder {
			if refersTo(refs[key], name) && !attached[name] {
				res.Agents = append(res.Agents, *agents[name])
				attached[name] = true
			}
		}
		out.Resources = append(out.Resources, res)
	}
	for _, name := range agentOrder {
		if !attached[name] { // an agent no resource refers to is listed on its own
			out.Resources = append(out.Resources, client.ProvisionerResource{Type: "coder_agent", Name: name, Agents: []client.ProvisionerAgent{*agents[name]}})
		}
	}
	return out
}

// allResources lists the root module's resources from the prior state (data sources read during
// the plan) and the planned values.
func allResources(plan *tfjson.Plan) []*tfjson.StateResource {
	var out []*tfjson.StateResource
	if plan.PriorState != nil && plan.PriorState.Values != nil && plan.PriorState.Values.RootModule != nil {
		out = append(out, plan.PriorState.Values.RootModule.Resources...)
	}
	if plan.PlannedValues != nil && plan.PlannedValues.RootModule != nil {
		seen := map[string]bool{}
		for _, r := range out {
			seen[r.Address] = true
		}
		for _, r := range plan.PlannedValues.RootModule.Resources {
			if !seen[r.Address] {
				out = append(out, r)
			}
		}
	}
	return out
}

// configReferences maps each resource's address (type.name) to everything its configuration refers
// to, provisioners and nested blocks included.
func configReferences(plan *tfjson.Plan) map[string][]string {
	out := map[string][]string{}
	if plan.Config == nil || plan.Config.RootModule == nil {
		return out
	}
	for _, r := range plan.Config.RootModule.Resources {
		var refs []string
		collect(r.Expressions, &refs)
		if r.CountExpression != nil {
			refs = append(refs, r.CountExpression.References...)
		}
		for _, p := range r.Provisioners {
			collect(p.Expressions, &refs)
		}
		out[r.Type+"."+r.Name] = refs
	}
	return out
}

func collect(exprs map[string]*tfjson.Expression, into *[]string) {
	for _, e := range exprs {
		if e == nil || e.ExpressionData == nil {
			continue
		}
		*into = append(*into, e.References...)
		for _, block := range e.NestedBlocks {
			collect(block, into)
		}
	}
}

// refersTo reports whether refs name agent's id, token or init script (or the agent itself).
func refersTo(refs []string, agent string) bool {
	for _, r := range refs {
		switch r {
		case "coder_agent." + agent, "coder_agent." + agent + ".id", "coder_agent." + agent + ".token", "coder_agent." + agent + ".init_script":
			return true
		}
	}
	return false
}

func firstAgent(refs []string) string {
	for _, r := range refs {
		if rest, ok := strings.CutPrefix(r, "coder_agent."); ok {
			name, _, _ := strings.Cut(rest, ".")
			return name
		}
	}
	return ""
}

func parameter(v map[string]any) client.ProvisionerParameter {
	p := client.ProvisionerParameter{Name: str(v["name"]), Type: client.ProvisionerParameterType(str(v["type"])),
		Mutable: v["mutable"] == true, Ephemeral: v["ephemeral"] == true, Options: []client.ProvisionerParameterOption{}}
	if p.Type == "" {
		p.Type = "string"
	}
	p.DisplayName, p.Description, p.Icon = optStr(v["display_name"]), optStr(v["description"]), optStr(v["icon"])
	if d, ok := v["default"].(string); ok {
		p.Default = &d
	}
	p.Required = p.Default == nil && v["optional"] != true
	if o, ok := v["order"].(float64); ok {
		p.Order = int64(o)
	}
	for _, raw := range list(v["option"]) {
		p.Options = append(p.Options, client.ProvisionerParameterOption{Name: str(raw["name"]), Value: str(raw["value"]),
			Description: optStr(raw["description"]), Icon: optStr(raw["icon"])})
	}
	if vs := list(v["validation"]); len(vs) > 0 {
		val := vs[0]
		pv := &client.ProvisionerValidation{Regex: optStr(val["regex"]), Error: optStr(val["error"])}
		if m := str(val["monotonic"]); m != "" {
			mono := client.ProvisionerValidationMonotonic(m)
			pv.Monotonic = &mono
		}
		if n, ok := val["min"].(float64); ok && val["min_disabled"] != true {
			i := int64(n)
			pv.Min = &i
		}
		if n, ok := val["max"].(float64); ok && val["max_disabled"] != true {
			i := int64(n)
			pv.Max = &i
		}
		p.Validation = pv
	}
	return p
}

func list(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func optStr(v any) *string {
	if s, ok := v.(string); ok && s != "" {
		return &s
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
