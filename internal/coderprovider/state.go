// Package coderprovider is Hearth's side of the coder/coder Terraform provider, which Coder templates
// are written against: which of its data sources, resources and attributes Hearth honours (the
// construct table), what a template's source asks for before Terraform runs (workspace tags,
// constructs Hearth does not honour, with their file and line), and what a plan or state says was
// declared (parameters, agents, apps, scripts, metadata). The provisioner worker, the API and the
// docs all read it from here, so a new provider version is one change in one place.
package coderprovider

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hearthdev/hearth/client"
)

// ParseImport reads a template's parameters (those of its modules too), variables, resources, agents and apps from its plan.
// Agents are attached to the resources whose configuration refers to them (their id, token or init
// script), from the plan's configuration references rather than `terraform graph`, which would cost
// another Terraform run.
func ParseImport(plan *tfjson.Plan) *client.ProvisionerImportResult {
	out := &client.ProvisionerImportResult{Parameters: []client.ProvisionerParameter{}, Variables: []client.ProvisionerTemplateVariable{},
		Resources: []client.ProvisionerResource{}}
	for _, r := range allResources(plan) {
		if r.Mode == tfjson.DataResourceMode && r.Type == "coder_parameter" {
			out.Parameters = append(out.Parameters, parameter(r.AttributeValues))
		}
	}
	sort.SliceStable(out.Parameters, func(i, j int) bool { return out.Parameters[i].Order < out.Parameters[j].Order })
	var presets []client.ProvisionerPreset
	for _, r := range allResources(plan) {
		if r.Mode == tfjson.DataResourceMode && r.Type == "coder_workspace_preset" {
			presets = append(presets, preset(r.AttributeValues))
		}
	}
	if len(presets) > 0 {
		out.Presets = &presets
	}
	var auths []client.ProvisionerExternalAuth
	seen := map[string]bool{}
	for _, r := range allResources(plan) {
		if r.Mode == tfjson.DataResourceMode && r.Type == "coder_external_auth" {
			id := str(r.AttributeValues["id"])
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			auths = append(auths, client.ProvisionerExternalAuth{Id: id, Optional: r.AttributeValues["optional"] == true})
		}
	}
	if len(auths) > 0 {
		out.ExternalAuth = &auths
	}

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
	out.Resources = parseResources(allResources(plan), ConfigReferences(plan), true)
	return out
}

// ParseBuild reads what a build made from the state after apply; agents are attached to resources
// by the plan's configuration references. Agents no resource refers to are listed on their own
// only when the workspace is started (in a stopped one, they run nowhere).
func ParseBuild(state *tfjson.State, plan *tfjson.Plan, transition string) []client.ProvisionerResource {
	return ParseBuildReferences(state, ConfigReferences(plan), transition)
}

// ParseBuildReferences is ParseBuild with the configuration's references (ConfigReferences of any
// plan of the same template version) in place of the plan.
func ParseBuildReferences(state *tfjson.State, refs map[string][]string, transition string) []client.ProvisionerResource {
	var resources []*tfjson.StateResource
	if state != nil && state.Values != nil {
		resources = moduleResources(state.Values.RootModule)
	}
	return parseResources(resources, refs, transition == "start")
}

func moduleResources(m *tfjson.StateModule) []*tfjson.StateResource {
	if m == nil {
		return nil
	}
	out := append([]*tfjson.StateResource{}, m.Resources...)
	for _, c := range m.ChildModules {
		out = append(out, moduleResources(c)...)
	}
	return out
}

// parseResources turns resources into the workspace's resources with their agents. Apps, scripts
// and env find their agent by agent_id when its value is known (after apply, in any module), else by
// the configuration's references (a plan, root module).
func parseResources(all []*tfjson.StateResource, refs map[string][]string, standalone bool) []client.ProvisionerResource {
	agents := map[string]*client.ProvisionerAgent{}
	agentByID := map[string]string{}
	var agentOrder []string
	owner := func(r *tfjson.StateResource) *client.ProvisionerAgent {
		if id := str(r.AttributeValues["agent_id"]); id != "" {
			if name, ok := agentByID[id]; ok {
				return agents[name]
			}
		}
		return agents[firstAgent(refs[r.Type+"."+r.Name])]
	}
	var resources []*tfjson.StateResource
	metadata := map[string]map[string]any{} // resource id -> coder_metadata
	for _, r := range all {
		if r.Mode != tfjson.ManagedResourceMode || r.Type != "coder_agent" {
			continue
		}
		if _, ok := agents[r.Name]; ok {
			continue
		}
		agents[r.Name] = agent(r.Name, r.AttributeValues)
		agentOrder = append(agentOrder, r.Name)
		if id := str(r.AttributeValues["id"]); id != "" {
			agentByID[id] = r.Name
		}
	}
	for _, r := range all {
		if r.Mode != tfjson.ManagedResourceMode {
			continue
		}
		v := r.AttributeValues
		switch r.Type {
		case "coder_agent":
		case "coder_app":
			if ag := owner(r); ag != nil {
				ag.Apps = append(ag.Apps, app(v))
			}
		case "coder_script":
			if ag := owner(r); ag != nil {
				scripts := append(deref(ag.Scripts), client.ProvisionerScript{DisplayName: str(v["display_name"]), Script: str(v["script"]),
					Icon: optStr(v["icon"]), Cron: optStr(v["cron"]), LogPath: optStr(v["log_path"]), RunOnStart: optBool(v["run_on_start"]),
					RunOnStop: optBool(v["run_on_stop"]), StartBlocksLogin: optBool(v["start_blocks_login"]), TimeoutSeconds: optInt(v["timeout"])})
				ag.Scripts = &scripts
			}
		case "coder_env":
			if ag := owner(r); ag != nil {
				env := map[string]string{}
				if ag.Env != nil {
					env = *ag.Env
				}
				env[str(v["name"])] = str(v["value"])
				ag.Env = &env
			}
		case "coder_metadata":
			if id := str(v["resource_id"]); id != "" {
				metadata[id] = v
			} else if target := referencedResource(refs[r.Type+"."+r.Name]); target != "" {
				// In a plan (an import) the resource's ID is not known yet: its reference says which it is.
				metadata["ref:"+target] = v
			}
		default:
			if !strings.HasPrefix(r.Type, "coder_") {
				resources = append(resources, r)
			}
		}
	}
	out := []client.ProvisionerResource{}
	attached := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range resources {
		key := r.Type + "." + r.Name
		if seen[key] { // count and for_each instances are one resource here
			continue
		}
		seen[key] = true
		res := client.ProvisionerResource{Type: r.Type, Name: r.Name, Agents: []client.ProvisionerAgent{}}
		m, ok := metadata[str(r.AttributeValues["id"])]
		if !ok {
			m, ok = metadata["ref:"+key]
		}
		if ok {
			res.Hide, res.Icon = optBool(m["hide"]), optStr(m["icon"])
			res.DailyCost = optInt(m["daily_cost"])
			var items []client.ProvisionerMetadataItem
			for _, it := range list(m["item"]) {
				items = append(items, client.ProvisionerMetadataItem{Key: str(it["key"]), Value: str(it["value"]), Sensitive: optBool(it["sensitive"])})
			}
			if len(items) > 0 {
				res.Metadata = &items
			}
		}
		for _, name := range agentOrder {
			if refersTo(refs[key], name) && !attached[name] {
				res.Agents = append(res.Agents, *agents[name])
				attached[name] = true
			}
		}
		out = append(out, res)
	}
	for _, name := range agentOrder {
		if !attached[name] && standalone { // an agent no resource refers to is listed on its own
			out = append(out, client.ProvisionerResource{Type: "coder_agent", Name: name, Agents: []client.ProvisionerAgent{*agents[name]}})
		}
	}
	return out
}

// agent reads a coder_agent; the legacy startup and shutdown scripts become scripts.
func agent(name string, v map[string]any) *client.ProvisionerAgent {
	a := &client.ProvisionerAgent{Name: name, Os: str(v["os"]), Arch: str(v["arch"]), Apps: []client.ProvisionerApp{},
		Token: optStr(v["token"]), Directory: optStr(v["dir"]), MotdFile: optStr(v["motd_file"]),
		TroubleshootingUrl: optStr(v["troubleshooting_url"]), ConnectionTimeoutSeconds: optInt(v["connection_timeout"])}
	if env, ok := v["env"].(map[string]any); ok && len(env) > 0 {
		m := make(map[string]string, len(env))
		for k, val := range env {
			m[k] = fmt.Sprint(val)
		}
		a.Env = &m
	}
	var scripts []client.ProvisionerScript
	if s := str(v["startup_script"]); s != "" {
		scripts = append(scripts, client.ProvisionerScript{DisplayName: "Startup Script", Script: s, RunOnStart: ptr(true),
			StartBlocksLogin: ptr(str(v["startup_script_behavior"]) == "blocking")})
	}
	if s := str(v["shutdown_script"]); s != "" {
		scripts = append(scripts, client.ProvisionerScript{DisplayName: "Shutdown Script", Script: s, RunOnStop: ptr(true)})
	}
	if len(scripts) > 0 {
		a.Scripts = &scripts
	}
	if da := list(v["display_apps"]); len(da) > 0 {
		d := da[0]
		a.DisplayApps = &client.ProvisionerDisplayApps{Vscode: d["vscode"] == true, VscodeInsiders: d["vscode_insiders"] == true,
			WebTerminal: d["web_terminal"] == true, SshHelper: d["ssh_helper"] == true, PortForwardingHelper: d["port_forwarding_helper"] == true}
	}
	a.Order = optInt(v["order"])
	if rm := list(v["resources_monitoring"]); len(rm) > 0 {
		mon := &client.ProvisionerResourcesMonitoring{}
		if mem := list(rm[0]["memory"]); len(mem) > 0 {
			n, _ := num(mem[0]["threshold"])
			mon.Memory = &client.ProvisionerMonitorThreshold{Enabled: mem[0]["enabled"] == true, Threshold: int64(n)}
		}
		var vols []client.ProvisionerVolumeThreshold
		for _, vol := range list(rm[0]["volume"]) {
			n, _ := num(vol["threshold"])
			vols = append(vols, client.ProvisionerVolumeThreshold{Path: str(vol["path"]), Enabled: vol["enabled"] == true, Threshold: int64(n)})
		}
		if len(vols) > 0 {
			mon.Volumes = &vols
		}
		a.ResourcesMonitoring = mon
	}
	var md []client.ProvisionerAgentMetadata
	for _, m := range list(v["metadata"]) {
		interval, _ := num(m["interval"])
		md = append(md, client.ProvisionerAgentMetadata{Key: str(m["key"]), DisplayName: optStr(m["display_name"]), Script: str(m["script"]),
			IntervalSeconds: int64(interval), TimeoutSeconds: optInt(m["timeout"]), Order: optInt(m["order"])})
	}
	if len(md) > 0 {
		a.Metadata = &md
	}
	return a
}

func app(v map[string]any) client.ProvisionerApp {
	a := client.ProvisionerApp{Slug: str(v["slug"]), Subdomain: v["subdomain"] == true, DisplayName: optStr(v["display_name"]),
		Url: optStr(v["url"]), Command: optStr(v["command"]), Share: optStr(v["share"]), Icon: optStr(v["icon"]),
		External: optBool(v["external"]), Hidden: optBool(v["hidden"]), Order: optInt(v["order"]), Group: optStr(v["group"]),
		Tooltip: optStr(v["tooltip"])}
	if o := str(v["open_in"]); o != "" {
		in := client.ProvisionerAppOpenIn(o)
		a.OpenIn = &in
	}
	if hc := list(v["healthcheck"]); len(hc) > 0 {
		interval, _ := num(hc[0]["interval"])
		threshold, _ := num(hc[0]["threshold"])
		a.Healthcheck = &client.ProvisionerHealthcheck{Url: str(hc[0]["url"]), IntervalSeconds: int64(interval), Threshold: int64(threshold)}
	}
	return a
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

func optBool(v any) *bool {
	if b, ok := v.(bool); ok && b {
		return &b
	}
	return nil
}

func optInt(v any) *int64 {
	if f, ok := num(v); ok && f != 0 {
		i := int64(f)
		return &i
	}
	return nil
}

// num reads a number, which Terraform's JSON gives as float64 or json.Number depending on the decoder.
func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// allResources lists the resources of every module, child modules included, from the prior state
// (data sources read during the plan) and the planned values.
func allResources(plan *tfjson.Plan) []*tfjson.StateResource {
	var out []*tfjson.StateResource
	if plan.PriorState != nil && plan.PriorState.Values != nil {
		out = append(out, moduleResources(plan.PriorState.Values.RootModule)...)
	}
	if plan.PlannedValues != nil {
		seen := map[string]bool{}
		for _, r := range out {
			seen[r.Address] = true
		}
		for _, r := range moduleResources(plan.PlannedValues.RootModule) {
			if !seen[r.Address] {
				out = append(out, r)
			}
		}
	}
	return out
}

// ConfigReferences maps each resource's address (type.name) to everything its configuration refers
// to, provisioners and nested blocks included. It depends on the template alone, not on a build's
// values.
func ConfigReferences(plan *tfjson.Plan) map[string][]string {
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

// referencedResource is the first managed resource other than the coder provider's that refs name,
// as TYPE.NAME (terraform_data.machine[0].id names terraform_data.machine).
func referencedResource(refs []string) string {
	for _, r := range refs {
		if strings.HasPrefix(r, "coder_") || strings.HasPrefix(r, "data.") || strings.HasPrefix(r, "var.") ||
			strings.HasPrefix(r, "local.") || strings.HasPrefix(r, "module.") || !strings.Contains(r, ".") {
			continue
		}
		typ, rest, _ := strings.Cut(r, ".")
		name, _, _ := strings.Cut(rest, ".")
		name, _, _ = strings.Cut(name, "[")
		return typ + "." + name
	}
	return ""
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
	if ft := str(v["form_type"]); ft != "" {
		f := client.ProvisionerParameterFormType(ft)
		p.FormType = &f
	}
	var styling client.ProvisionerParameterStyling
	if raw := str(v["styling"]); raw != "" && raw != "{}" && json.Unmarshal([]byte(raw), &styling) == nil {
		p.Styling = &styling
	}
	if o, ok := num(v["order"]); ok {
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
		if n, ok := num(val["min"]); ok && val["min_disabled"] != true {
			i := int64(n)
			pv.Min = &i
		}
		if n, ok := num(val["max"]); ok && val["max_disabled"] != true {
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

// preset reads a coder_workspace_preset, its prebuilds block included.
func preset(v map[string]any) client.ProvisionerPreset {
	p := client.ProvisionerPreset{Name: str(v["name"]), Description: optStr(v["description"]), Icon: optStr(v["icon"]),
		Default: v["default"] == true, Parameters: map[string]string{}}
	if params, ok := v["parameters"].(map[string]any); ok {
		for k, val := range params {
			p.Parameters[k] = fmt.Sprint(val)
		}
	}
	if pb := list(v["prebuilds"]); len(pb) > 0 {
		n, _ := num(pb[0]["instances"])
		out := &client.ProvisionerPrebuilds{Instances: int64(n)}
		if exp := list(pb[0]["expiration_policy"]); len(exp) > 0 {
			out.ExpirationTtlSeconds = optInt(exp[0]["ttl"])
		}
		if sch := list(pb[0]["scheduling"]); len(sch) > 0 {
			out.Timezone = optStr(sch[0]["timezone"])
			var schedule []client.ProvisionerPrebuildSchedule
			for _, s := range list(sch[0]["schedule"]) {
				n, _ := num(s["instances"])
				schedule = append(schedule, client.ProvisionerPrebuildSchedule{Cron: str(s["cron"]), Instances: int64(n)})
			}
			if len(schedule) > 0 {
				out.Schedule = &schedule
			}
		}
		p.Prebuilds = out
	}
	return p
}

// CheckPresets refuses presets that cannot be used: two with one name, more than one default, or
// one that sets a parameter the template does not have.
func CheckPresets(res *client.ProvisionerImportResult) error {
	if res.Presets == nil {
		return nil
	}
	params := map[string]bool{}
	for _, p := range res.Parameters {
		params[p.Name] = true
	}
	seen, defaults := map[string]bool{}, 0
	for _, p := range *res.Presets {
		if seen[p.Name] {
			return fmt.Errorf("coder_workspace_preset %q is declared twice; preset names must be unique", p.Name)
		}
		seen[p.Name] = true
		if p.Default {
			defaults++
		}
		names := make([]string, 0, len(p.Parameters))
		for k := range p.Parameters {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !params[k] {
				return fmt.Errorf("coder_workspace_preset %q sets parameter %q, which the template does not declare (a coder_parameter with name = %q)", p.Name, k, k)
			}
		}
	}
	if defaults > 1 {
		return fmt.Errorf("%d coder_workspace_presets are marked default; at most one may be", defaults)
	}
	return nil
}
