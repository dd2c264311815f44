// Package externalauth is Hearth's side of external auth: OAuth2 apps at Git hosts (GitHub, GitLab,
// Bitbucket, Azure DevOps, Gitea) or any OAuth2/OIDC provider, which each user links their account
// to once, so templates (data "coder_external_auth") and the `coder` command in their workspaces get
// a fresh access token. It owns the providers' settings, the OAuth flows (authorization code with
// PKCE, device authorization, refresh, revocation) and the links, whose tokens are sealed with the
// deployment's secret key.
package externalauth

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is one provider as an operator writes it (the YAML file's items, or the numbered
// HEARTH_EXTERNAL_AUTH_N_* variables). Empty fields take the type's defaults.
type Config struct {
	ID               string   `yaml:"id"`
	Type             string   `yaml:"type"`
	DisplayName      string   `yaml:"display_name"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	AuthURL          string   `yaml:"auth_url"`
	TokenURL         string   `yaml:"token_url"`
	DeviceCodeURL    string   `yaml:"device_code_url"`
	RevokeURL        string   `yaml:"revoke_url"`
	ValidateURL      string   `yaml:"validate_url"`
	IssuerURL        string   `yaml:"issuer_url"`
	Scopes           []string `yaml:"scopes"`
	Regex            string   `yaml:"regex"`
	DeviceFlow       bool     `yaml:"device_flow"`
	NoRefresh        bool     `yaml:"no_refresh"`
}

// defaults are each type's endpoints, scopes and the Git URLs it serves (its public host).
var defaults = map[string]Config{
	"github": {DisplayName: "GitHub", AuthURL: "https://github.com/login/oauth/authorize", TokenURL: "https://github.com/login/oauth/access_token",
		DeviceCodeURL: "https://github.com/login/device/code", RevokeURL: "https://api.github.com/applications/{client_id}/grant",
		ValidateURL: "https://api.github.com/user", Scopes: []string{"repo", "workflow"}, Regex: `^(https?://)?github\.com(/.*)?$`},
	"gitlab": {DisplayName: "GitLab", AuthURL: "https://gitlab.com/oauth/authorize", TokenURL: "https://gitlab.com/oauth/token",
		DeviceCodeURL: "https://gitlab.com/oauth/authorize_device", RevokeURL: "https://gitlab.com/oauth/revoke",
		ValidateURL: "https://gitlab.com/oauth/token/info", Scopes: []string{"write_repository"}, Regex: `^(https?://)?gitlab\.com(/.*)?$`},
	"bitbucket-cloud": {DisplayName: "Bitbucket", AuthURL: "https://bitbucket.org/site/oauth2/authorize", TokenURL: "https://bitbucket.org/site/oauth2/access_token",
		ValidateURL: "https://api.bitbucket.org/2.0/user", Scopes: []string{"account", "repository:write"}, Regex: `^(https?://)?bitbucket\.org(/.*)?$`},
	// Azure DevOps through Microsoft Entra ID: auth_url and token_url are the tenant's
	// (https://login.microsoftonline.com/TENANT/oauth2/v2.0/authorize and …/token).
	"azure-devops": {DisplayName: "Azure DevOps", Scopes: []string{"499b84ac-1321-427f-aa17-267ca6975798/.default", "offline_access"},
		Regex: `^(https?://)?dev\.azure\.com(/.*)?$`},
	"gitea": {DisplayName: "Gitea", AuthURL: "https://gitea.com/login/oauth/authorize", TokenURL: "https://gitea.com/login/oauth/access_token",
		ValidateURL: "https://gitea.com/api/v1/user", Scopes: []string{"write:repository"}, Regex: `^(https?://)?gitea\.com(/.*)?$`},
	"oauth2": {},
	"oidc":   {Scopes: []string{"openid", "offline_access"}},
}

// Types are the provider types Hearth knows.
func Types() []string {
	out := make([]string, 0, len(defaults))
	for t := range defaults {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// resolve checks c and fills in its type's defaults.
func (c Config) resolve() (Config, *regexp.Regexp, error) {
	if c.Type == "" {
		c.Type = c.ID // id: github is a GitHub provider
	}
	d, ok := defaults[c.Type]
	if !ok {
		return c, nil, fmt.Errorf("type %q is not one Hearth knows (%s)", c.Type, strings.Join(Types(), ", "))
	}
	if !idPattern.MatchString(c.ID) {
		return c, nil, fmt.Errorf("id %q: use 1-64 lower-case letters, digits, - and _ (it names the provider in templates, URLs and CODER_EXTERNAL_AUTH_ACCESS_TOKEN_<id>)", c.ID)
	}
	if c.ClientID == "" {
		return c, nil, errors.New("client_id is missing: register an OAuth app at the provider and give its client ID")
	}
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return c, nil, fmt.Errorf("client_secret_file: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
	}
	fill := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	fill(&c.DisplayName, d.DisplayName)
	fill(&c.DisplayName, c.ID)
	fill(&c.AuthURL, d.AuthURL)
	fill(&c.TokenURL, d.TokenURL)
	fill(&c.DeviceCodeURL, d.DeviceCodeURL)
	fill(&c.RevokeURL, d.RevokeURL)
	fill(&c.ValidateURL, d.ValidateURL)
	fill(&c.Regex, d.Regex)
	if len(c.Scopes) == 0 {
		c.Scopes = d.Scopes
	}
	if c.Type == "oidc" {
		if c.IssuerURL == "" && (c.AuthURL == "" || c.TokenURL == "") {
			return c, nil, errors.New("type oidc needs issuer_url (its endpoints are discovered from it)")
		}
	} else if c.AuthURL == "" || c.TokenURL == "" {
		return c, nil, fmt.Errorf("type %s needs auth_url and token_url", c.Type)
	}
	if c.DeviceFlow && c.DeviceCodeURL == "" && c.Type != "oidc" {
		return c, nil, errors.New("device_flow needs device_code_url, the provider's device authorization endpoint")
	}
	var re *regexp.Regexp
	if c.Regex != "" {
		var err error
		if re, err = regexp.Compile(c.Regex); err != nil {
			return c, nil, fmt.Errorf("regex: %w", err)
		}
	}
	return c, re, nil
}

// Load reads providers from a YAML file (a list of Config; path may be empty) and from the
// numbered variables of environ (HEARTH_EXTERNAL_AUTH_0_ID, HEARTH_EXTERNAL_AUTH_0_CLIENT_ID, …),
// checks them and fills in their types' defaults.
func Load(path string, environ []string) ([]*Provider, error) {
	var all []Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("external auth: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&all); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("external auth: %s: want a list of providers (id, type, client_id, client_secret, …): %w", path, err)
		}
	}
	fromEnv, err := fromEnviron(environ)
	if err != nil {
		return nil, err
	}
	all = append(all, fromEnv...)
	seen := map[string]bool{}
	out := make([]*Provider, 0, len(all))
	for i, c := range all {
		r, re, err := c.resolve()
		if err != nil {
			name := c.ID
			if name == "" {
				name = "#" + strconv.Itoa(i)
			}
			return nil, fmt.Errorf("external auth provider %s: %w", name, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("external auth provider %s: configured twice", r.ID)
		}
		seen[r.ID] = true
		out = append(out, newProvider(r, re))
	}
	return out, nil
}

// EnvPrefix starts the variables that configure providers: HEARTH_EXTERNAL_AUTH_<N>_<FIELD>.
const EnvPrefix = "HEARTH_EXTERNAL_AUTH_"

func fromEnviron(environ []string) ([]Config, error) {
	byIndex := map[int]*Config{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(k, EnvPrefix)
		if !ok {
			continue
		}
		n, field, ok := strings.Cut(rest, "_")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 {
			continue // HEARTH_EXTERNAL_AUTH_CONFIG, the file flag's variable
		}
		c := byIndex[i]
		if c == nil {
			c = &Config{}
			byIndex[i] = c
		}
		switch field {
		case "ID":
			c.ID = v
		case "TYPE":
			c.Type = v
		case "DISPLAY_NAME":
			c.DisplayName = v
		case "CLIENT_ID":
			c.ClientID = v
		case "CLIENT_SECRET":
			c.ClientSecret = v
		case "CLIENT_SECRET_FILE":
			c.ClientSecretFile = v
		case "AUTH_URL":
			c.AuthURL = v
		case "TOKEN_URL":
			c.TokenURL = v
		case "DEVICE_CODE_URL":
			c.DeviceCodeURL = v
		case "REVOKE_URL":
			c.RevokeURL = v
		case "VALIDATE_URL":
			c.ValidateURL = v
		case "ISSUER_URL":
			c.IssuerURL = v
		case "SCOPES":
			c.Scopes = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		case "REGEX":
			c.Regex = v
		case "DEVICE_FLOW", "NO_REFRESH":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: want true or false", k, v)
			}
			if field == "DEVICE_FLOW" {
				c.DeviceFlow = b
			} else {
				c.NoRefresh = b
			}
		default:
			return nil, fmt.Errorf("%s: unknown setting %s (settings: ID, TYPE, DISPLAY_NAME, CLIENT_ID, CLIENT_SECRET, CLIENT_SECRET_FILE, "+
				"AUTH_URL, TOKEN_URL, DEVICE_CODE_URL, REVOKE_URL, VALIDATE_URL, ISSUER_URL, SCOPES, REGEX, DEVICE_FLOW, NO_REFRESH)", k, field)
		}
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]Config, 0, len(idx))
	for _, i := range idx {
		out = append(out, *byIndex[i])
	}
	return out, nil
}
