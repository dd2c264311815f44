package coderprovider

// Version is the coder/coder provider version the table below describes, the one
// `go tool task providers` builds into the mirror.
const Version = "2.20.0"

// Support says what Hearth does with a construct or an attribute.
type Support string

const (
	// Supported: honoured the way Coder honours it.
	Supported Support = "supported"
	// Differs: honoured, with a difference the note says.
	Differs Support = "differs"
	// Unsupported: read by the provider but not honoured by Hearth; a template that sets it is
	// warned at import (and refused with strict).
	Unsupported Support = "unsupported"
)

// Kind is a construct's block type in Terraform.
type Kind string

const (
	Resource   Kind = "resource"
	DataSource Kind = "data"
	Provider   Kind = "provider"
)

// Attr is an attribute or nested block of a construct, by its path inside the block
// (display_apps.vscode).
type Attr struct {
	Path    string
	Support Support
	Note    string
}

// Construct is a data source, resource or the provider block itself, with all of its attributes.
type Construct struct {
	Kind    Kind
	Type    string
	Support Support
	Note    string
	Attrs   []Attr
}

// Attr finds an attribute by its path.
func (c Construct) Attr(path string) (Attr, bool) {
	for _, a := range c.Attrs {
		if a.Path == path {
			return a, true
		}
	}
	return Attr{}, false
}

// Lookup finds a construct by kind and type.
func Lookup(kind Kind, typ string) (Construct, bool) {
	for _, c := range Constructs {
		if c.Kind == kind && c.Type == typ {
			return c, true
		}
	}
	return Construct{}, false
}

func ok(paths ...string) []Attr {
	out := make([]Attr, len(paths))
	for i, p := range paths {
		out[i] = Attr{Path: p, Support: Supported}
	}
	return out
}

func no(note string, paths ...string) []Attr {
	out := make([]Attr, len(paths))
	for i, p := range paths {
		out[i] = Attr{Path: p, Support: Unsupported, Note: note}
	}
	return out
}

func differs(note string, paths ...string) []Attr {
	out := make([]Attr, len(paths))
	for i, p := range paths {
		out[i] = Attr{Path: p, Support: Differs, Note: note}
	}
	return out
}

func cat(parts ...[]Attr) []Attr {
	var out []Attr
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Constructs is every data source and resource of the provider at Version, with every attribute:
// a test compares it with the provider's own schema, so it cannot fall behind the pinned version.
var Constructs = []Construct{
	{Kind: Provider, Type: "coder", Support: Supported, Attrs: []Attr{
		{Path: "url", Support: Supported, Note: "Overrides the URL agents dial; by default the deployment's access URL (CODER_AGENT_URL)."},
	}},
	{Kind: Resource, Type: "coder_agent", Support: Supported, Attrs: cat(
		ok("arch", "os", "dir", "env", "id", "init_script", "token", "motd_file", "troubleshooting_url", "connection_timeout",
			"metadata", "metadata.display_name", "metadata.interval", "metadata.key", "metadata.order", "metadata.script", "metadata.timeout"),
		[]Attr{
			{Path: "auth", Support: Differs, Note: `Only "token" (the default); instance identities (google-instance-identity, aws-instance-identity, azure-instance-identity) are not accepted.`},
			{Path: "startup_script", Support: Differs, Note: "Run as a script named Startup Script (coder_script is the current way)."},
			{Path: "startup_script_behavior", Support: Supported},
			{Path: "shutdown_script", Support: Differs, Note: "Run as a script named Shutdown Script when the workspace stops."},
		},
		ok("order"),
		no("Agent tokens are not API keys; their scope is the workspace.", "api_key_scope"),
		ok("display_apps", "display_apps.web_terminal", "display_apps.ssh_helper", "display_apps.port_forwarding_helper"),
		differs("Stored and returned; Hearth has no VS Code extension, so the dashboard shows no VS Code button.", "display_apps.vscode", "display_apps.vscode_insiders"),
		differs("The agent reports use every 15 s; the workspace page and the agent's API show it and flag an alert at the threshold. No notification is sent.",
			"resources_monitoring", "resources_monitoring.memory", "resources_monitoring.memory.enabled", "resources_monitoring.memory.threshold",
			"resources_monitoring.volume", "resources_monitoring.volume.enabled", "resources_monitoring.volume.path", "resources_monitoring.volume.threshold"),
	)},
	{Kind: Resource, Type: "coder_agent_instance", Support: Unsupported, Note: "Instance identity authentication is not offered.",
		Attrs: no("", "agent_id", "id", "instance_id")},
	{Kind: Resource, Type: "coder_ai_task", Support: Unsupported, Note: "AI tasks are not offered.",
		Attrs: no("", "app_id", "enabled", "id", "prompt", "sidebar_app", "sidebar_app.id")},
	{Kind: Resource, Type: "coder_app", Support: Supported, Attrs: cat(
		ok("agent_id", "command", "display_name", "hidden", "icon", "id", "order", "slug", "url", "healthcheck", "healthcheck.interval",
			"healthcheck.threshold", "healthcheck.url"),
		[]Attr{
			{Path: "subdomain", Support: Differs, Note: "Every app is served on its own host when --wildcard-access-url is set, subdomain or not; without one, apps are path apps."},
			{Path: "share", Support: Differs, Note: "owner, authenticated and public; a path app is shared beyond its owner only with --dangerous-allow-path-app-sharing."},
			{Path: "external", Support: Supported, Note: "The dashboard links the URL itself; the app proxy refuses external apps."},
		},
		ok("group", "open_in", "tooltip"),
	)},
	{Kind: Resource, Type: "coder_devcontainer", Support: Unsupported, Note: "Dev containers are not started by the agent.",
		Attrs: no("", "agent_id", "config_path", "id", "subagent_id", "workspace_folder")},
	{Kind: Resource, Type: "coder_env", Support: Supported, Attrs: cat(
		ok("agent_id", "id", "name", "value"),
		no("A later coder_env of the same name replaces an earlier one.", "merge_strategy"),
	)},
	{Kind: Resource, Type: "coder_external_agent", Support: Unsupported, Note: "External agents are not offered.",
		Attrs: no("", "agent_id", "id")},
	{Kind: Resource, Type: "coder_metadata", Support: Supported,
		Attrs: ok("daily_cost", "hide", "icon", "id", "resource_id", "item", "item.is_null", "item.key", "item.sensitive", "item.value")},
	{Kind: Resource, Type: "coder_script", Support: Supported,
		Attrs: ok("agent_id", "cron", "display_name", "icon", "id", "log_path", "run_on_start", "run_on_stop", "script", "start_blocks_login", "timeout")},
	{Kind: DataSource, Type: "coder_external_auth", Support: Supported, Note: "Listed on the version; a required one must be linked by the owner before a start (403 otherwise). access_token is the owner's token, refreshed when due, for the build only; inside the workspace, coder external-auth access-token ID and Git's credential helper give a fresh one.",
		Attrs: ok("access_token", "id", "optional")},
	{Kind: DataSource, Type: "coder_parameter", Support: Supported, Attrs: cat(
		ok("default", "description", "display_name", "ephemeral", "icon", "id", "mutable", "name", "optional", "order", "type", "value",
			"option", "option.description", "option.icon", "option.name", "option.value",
			"validation", "validation.error", "validation.max", "validation.max_disabled", "validation.min", "validation.min_disabled",
			"validation.monotonic", "validation.regex"),
		ok("form_type"),
		[]Attr{{Path: "styling", Support: Differs, Note: "placeholder, disabled, label and mask_input are honoured; other keys are ignored."}},
	)},
	{Kind: DataSource, Type: "coder_provisioner", Support: Supported, Note: "The worker's operating system and architecture.",
		Attrs: ok("arch", "id", "os")},
	{Kind: DataSource, Type: "coder_script_order", Support: Unsupported, Note: "Scripts start together; their order is not enforced.",
		Attrs: no("", "id", "rule", "rule.after", "rule.phase", "rule.requires", "rule.run")},
	{Kind: DataSource, Type: "coder_task", Support: Unsupported, Note: "Tasks are not offered.",
		Attrs: no("", "enabled", "id", "prompt")},
	{Kind: DataSource, Type: "coder_workspace", Support: Supported, Attrs: cat(
		ok("id", "name", "template_id", "template_name", "template_version", "transition", "start_count"),
		[]Attr{
			{Path: "access_url", Support: Supported, Note: "The provider's url: the deployment's access URL unless the template sets it."},
			{Path: "access_port", Support: Supported, Note: "The port of access_url."},
			{Path: "is_prebuild", Support: Supported, Note: "True in the builds of a prebuilt workspace (owned by the prebuilds user), false once claimed."},
			{Path: "is_prebuild_claim", Support: Differs, Note: "False in builds: Hearth claims a prebuild without a build (ownership, name and agent token move at once). At the claim, coder_agent env is evaluated with it true for the new owner, where that needs no Terraform."},
			{Path: "prebuild_count", Support: Supported, Note: "1 in a prebuild's builds, else 0."},
		},
	)},
	{Kind: DataSource, Type: "coder_workspace_owner", Support: Supported, Attrs: cat(
		ok("email", "full_name", "id", "name", "login_type", "ssh_private_key", "ssh_public_key"),
		[]Attr{
			{Path: "groups", Support: Supported, Note: "The names of the owner's groups, everyone included."},
			{Path: "rbac_roles", Support: Differs, Note: "Hearth's roles (member, owner, user-admin, template-admin, auditor), each with an empty org_id."},
			{Path: "session_token", Support: Differs, Note: "A token of the owner made at each start, lasting 24 hours, revoked by the next build; listed among the owner's tokens as workspace ID."},
		},
		[]Attr{{Path: "oidc_access_token", Support: Differs, Note: "The access token of the owner's latest OIDC sign-in while it has not expired (Hearth does not refresh it); empty otherwise."}},
	)},
	{Kind: DataSource, Type: "coder_workspace_preset", Support: Supported, Note: "Listed on the version; chosen at create (API preset, hearth create --preset, the dashboard's Preset).",
		Attrs: cat(
			ok("description", "icon", "id", "name", "parameters"),
			[]Attr{{Path: "default", Support: Differs, Note: "The dashboard and hearth create choose it unless told otherwise; the API uses a preset only when asked."}},
			ok("prebuilds", "prebuilds.instances", "prebuilds.expiration_policy", "prebuilds.expiration_policy.ttl", "prebuilds.scheduling",
				"prebuilds.scheduling.timezone", "prebuilds.scheduling.schedule", "prebuilds.scheduling.schedule.cron", "prebuilds.scheduling.schedule.instances"),
		)},
	{Kind: DataSource, Type: "coder_workspace_tags", Support: Supported, Attrs: cat(
		ok("id"),
		[]Attr{{Path: "tags", Support: Differs, Note: "A value must be a literal string or data.coder_parameter.NAME.value; the build goes only to workers with all the tags. Other expressions are warned about and left out."}},
	)},
}
