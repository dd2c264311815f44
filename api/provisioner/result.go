package provisioner

// ImportResult is what importing a template version found.
type ImportResult struct {
	Parameters []Parameter        `json:"parameters"`
	Variables  []TemplateVariable `json:"variables"`
	Resources  []Resource         `json:"resources"`
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

// Resource is a resource a workspace build creates, with the agents that run on it.
type Resource struct {
	Type   string  `json:"type" example:"docker_container"`
	Name   string  `json:"name" example:"main"`
	Agents []Agent `json:"agents"`
}

// Agent is a coder_agent: what runs inside the workspace.
type Agent struct {
	Name string `json:"name"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	Apps []App  `json:"apps"`
}

// App is a coder_app of an agent.
type App struct {
	Slug        string `json:"slug"`
	DisplayName string `json:"display_name,omitempty"`
	URL         string `json:"url,omitempty"`
	Command     string `json:"command,omitempty"`
	Subdomain   bool   `json:"subdomain"`
	Share       string `json:"share,omitempty"`
}
