package provisioner

// ImportResult is what importing a template version found.
type ImportResult struct {
	Parameters []Parameter        `json:"parameters"`
	Variables  []TemplateVariable `json:"variables"`
	Resources  []Resource         `json:"resources"`
	Presets    []Preset           `json:"presets,omitempty" maxItems:"100"`
	// ExternalAuth is the providers the template's data "coder_external_auth" blocks name.
	ExternalAuth []ExternalAuth `json:"external_auth,omitempty" maxItems:"20"`
}

// ExternalAuth is a data "coder_external_auth": an external auth provider the template uses. A
// required one must be linked by a workspace's owner before it starts; its token reaches the build
// (access_token) and the workspace (coder external-auth access-token, Git credentials).
type ExternalAuth struct {
	ID       string `json:"id" minLength:"1" maxLength:"64"`
	Optional bool   `json:"optional" doc:"The owner may start the workspace without linking it."`
}

// Preset is a coder_workspace_preset: a named set of parameter values to create a workspace with.
type Preset struct {
	Name        string            `json:"name" minLength:"1" maxLength:"128"`
	Description string            `json:"description,omitempty"`
	Icon        string            `json:"icon,omitempty"`
	Default     bool              `json:"default" doc:"The one the dashboard chooses first."`
	Parameters  map[string]string `json:"parameters" doc:"The values it sets, by parameter name."`
	// Prebuilds is read and stored for prebuilt workspaces; nothing uses it yet.
	Prebuilds *Prebuilds `json:"prebuilds,omitempty"`
}

// Prebuilds is a preset's prebuilds block: how many workspaces to keep built ahead.
type Prebuilds struct {
	Instances     int64              `json:"instances"`
	ExpirationTTL int64              `json:"expiration_ttl_seconds,omitempty"`
	Timezone      string             `json:"timezone,omitempty"`
	Schedule      []PrebuildSchedule `json:"schedule,omitempty"`
}

// PrebuildSchedule is how many prebuilds to keep during a cron schedule's hours.
type PrebuildSchedule struct {
	Cron      string `json:"cron"`
	Instances int64  `json:"instances"`
}

// Parameter is a coder_parameter: a value the user chooses for a workspace.
type Parameter struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name,omitempty"`
	Description string            `json:"description,omitempty"`
	Type        string            `json:"type" enum:"string,number,bool,list(string)"`
	Default     string            `json:"default,omitempty"`
	Required    bool              `json:"required" doc:"No default: the user must choose."`
	Mutable     bool              `json:"mutable"`
	Ephemeral   bool              `json:"ephemeral"`
	Order       int               `json:"order"`
	Icon        string            `json:"icon,omitempty"`
	Options     []ParameterOption `json:"options"`
	Validation  *Validation       `json:"validation,omitempty"`
	// FormType is how to ask for it, as the provider resolved it from type, options and form_type.
	FormType string            `json:"form_type,omitempty" enum:"input,textarea,dropdown,radio,multi-select,tag-select,checkbox,switch,slider,error,"`
	Styling  *ParameterStyling `json:"styling,omitempty"`
}

// ParameterStyling is a parameter's styling: how the dashboard shows its control.
type ParameterStyling struct {
	Placeholder string `json:"placeholder,omitempty"`
	Disabled    bool   `json:"disabled,omitempty" doc:"Shown but not editable."`
	Label       string `json:"label,omitempty" doc:"A label beside a switch or checkbox."`
	MaskInput   bool   `json:"mask_input,omitempty" doc:"Typed as a password is."`
}

// ParameterOption is one choice of a parameter with options.
type ParameterOption struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
	Icon        string `json:"icon,omitempty"`
}

// Validation constrains a parameter's value.
type Validation struct {
	Min       *int   `json:"min,omitempty"`
	Max       *int   `json:"max,omitempty"`
	Monotonic string `json:"monotonic,omitempty" enum:"increasing,decreasing,"`
	Regex     string `json:"regex,omitempty"`
	Error     string `json:"error,omitempty"`
}

// TemplateVariable is a Terraform input variable of the template (set by template admins).
type TemplateVariable struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
	Default     string `json:"default,omitempty"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive"`
}

// BuildResult is what a workspace build left: Terraform's state (reported even when apply fails, so
// the next build starts from what exists) and the resources in it.
type BuildResult struct {
	State     []byte     `json:"state" doc:"Terraform's state after the build (base64)."`
	Resources []Resource `json:"resources"`
}

// Resource is a resource a workspace build creates, with the agents that run on it.
type Resource struct {
	Type      string         `json:"type" example:"docker_container"`
	Name      string         `json:"name" example:"main"`
	Hide      bool           `json:"hide,omitempty" doc:"From coder_metadata: keep it out of the dashboard."`
	Icon      string         `json:"icon,omitempty"`
	DailyCost int            `json:"daily_cost,omitempty"`
	Metadata  []MetadataItem `json:"metadata,omitempty" doc:"From coder_metadata items."`
	Agents    []Agent        `json:"agents"`
}

// MetadataItem is one coder_metadata item shown with a resource.
type MetadataItem struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Agent is a coder_agent: what runs inside the workspace. A build reports the token Terraform
// generated for it (stored only as a hash); an import never has one.
type Agent struct {
	Name                     string               `json:"name"`
	OS                       string               `json:"os"`
	Arch                     string               `json:"arch"`
	Token                    string               `json:"token,omitempty" doc:"Builds only: the agent's token from the state."`
	Directory                string               `json:"directory,omitempty"`
	Env                      map[string]string    `json:"env,omitempty" doc:"From the agent's env and coder_env."`
	Scripts                  []Script             `json:"scripts,omitempty" doc:"coder_script resources and the legacy startup/shutdown scripts."`
	Metadata                 []AgentMetadata      `json:"metadata,omitempty"`
	Apps                     []App                `json:"apps"`
	MOTDFile                 string               `json:"motd_file,omitempty"`
	TroubleshootingURL       string               `json:"troubleshooting_url,omitempty"`
	ConnectionTimeoutSeconds int                  `json:"connection_timeout_seconds,omitempty"`
	DisplayApps              *DisplayApps         `json:"display_apps,omitempty" doc:"Which built-in apps the dashboard shows; absent: the provider's defaults."`
	Order                    int                  `json:"order,omitempty" minimum:"-1000000" maximum:"1000000" doc:"The agent's place among the workspace's agents, lowest first."`
	ResourcesMonitoring      *ResourcesMonitoring `json:"resources_monitoring,omitempty"`
}

// ResourcesMonitoring is a coder_agent's resources_monitoring: what the agent watches, and at what use
// (percent) it is an alert.
type ResourcesMonitoring struct {
	Memory  *MonitorThreshold `json:"memory,omitempty"`
	Volumes []VolumeThreshold `json:"volumes,omitempty" maxItems:"20"`
}

// MonitorThreshold is one watched resource.
type MonitorThreshold struct {
	Enabled   bool `json:"enabled"`
	Threshold int  `json:"threshold" minimum:"0" maximum:"100" doc:"Percent used at which it is an alert."`
}

// VolumeThreshold is a watched volume, by a path on it.
type VolumeThreshold struct {
	Path      string `json:"path" maxLength:"1024"`
	Enabled   bool   `json:"enabled"`
	Threshold int    `json:"threshold" minimum:"0" maximum:"100"`
}

// DisplayApps are a coder_agent's display_apps: the built-in apps shown for it.
type DisplayApps struct {
	VSCode               bool `json:"vscode"`
	VSCodeInsiders       bool `json:"vscode_insiders"`
	WebTerminal          bool `json:"web_terminal"`
	SSHHelper            bool `json:"ssh_helper"`
	PortForwardingHelper bool `json:"port_forwarding_helper"`
}

// DefaultDisplayApps are the provider's defaults.
var DefaultDisplayApps = DisplayApps{VSCode: true, WebTerminal: true, SSHHelper: true, PortForwardingHelper: true}

// Script is a script an agent runs: at start, at stop, or on a cron schedule.
type Script struct {
	DisplayName      string `json:"display_name"`
	Icon             string `json:"icon,omitempty"`
	Script           string `json:"script"`
	Cron             string `json:"cron,omitempty"`
	LogPath          string `json:"log_path,omitempty"`
	RunOnStart       bool   `json:"run_on_start,omitempty"`
	RunOnStop        bool   `json:"run_on_stop,omitempty"`
	StartBlocksLogin bool   `json:"start_blocks_login,omitempty"`
	TimeoutSeconds   int    `json:"timeout_seconds,omitempty"`
}

// AgentMetadata is a value an agent measures with a script at an interval.
type AgentMetadata struct {
	Key             string `json:"key"`
	DisplayName     string `json:"display_name,omitempty"`
	Script          string `json:"script"`
	IntervalSeconds int    `json:"interval_seconds"`
	TimeoutSeconds  int    `json:"timeout_seconds,omitempty"`
	Order           int    `json:"order,omitempty"`
}

// App is a coder_app of an agent.
type App struct {
	Slug        string       `json:"slug"`
	DisplayName string       `json:"display_name,omitempty"`
	URL         string       `json:"url,omitempty"`
	Command     string       `json:"command,omitempty"`
	Icon        string       `json:"icon,omitempty"`
	Subdomain   bool         `json:"subdomain"`
	Share       string       `json:"share,omitempty"`
	External    bool         `json:"external,omitempty"`
	Hidden      bool         `json:"hidden,omitempty"`
	Order       int          `json:"order,omitempty"`
	Group       string       `json:"group,omitempty" doc:"Apps of one group are shown together."`
	OpenIn      string       `json:"open_in,omitempty" enum:"tab,slim-window," doc:"A new tab (the default) or a slim window."`
	Tooltip     string       `json:"tooltip,omitempty"`
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
}

// Healthcheck is how an agent checks that an app answers.
type Healthcheck struct {
	URL             string `json:"url"`
	IntervalSeconds int    `json:"interval_seconds"`
	Threshold       int    `json:"threshold"`
}

// Diagnostic is one of Terraform's diagnostics (an error or warning), as Terraform gave it.
type Diagnostic struct {
	Severity string `json:"severity" enum:"error,warning" doc:"error or warning."`
	Summary  string `json:"summary" maxLength:"4096" doc:"What is wrong, in one line."`
	Detail   string `json:"detail,omitempty" maxLength:"16384" doc:"Terraform's explanation, when it gives one."`
	File     string `json:"file,omitempty" maxLength:"1024" doc:"The template file at fault, relative to the template's root."`
	Line     int    `json:"line,omitempty" minimum:"0" doc:"The line in File (1-based)."`
	Column   int    `json:"column,omitempty" minimum:"0" doc:"The column in Line (1-based)."`
}
