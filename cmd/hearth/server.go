package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/server"
	"github.com/hearthdev/hearth/jobs"
)

func serverCommand() *cobra.Command {
	var (
		cfg             server.Config
		logs            *logFlags
		oidc            users.OIDCConfig
		groupMapping    string
		groupFilter     string
		pskFile         string
		extAuthFile     string
		psks, templates []string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API, dashboard, job queue and built-in provisioners",
		Long: `Run the control plane.

Without --postgres-url, the server runs its own PostgreSQL from the system's binaries (initdb and
postgres, found on PATH or under /usr/lib/postgresql/*/bin), keeping the cluster under --data-dir and
stopping it on exit. Point --postgres-url at an external PostgreSQL 13+ in production.

Every flag can also be set in the environment (HEARTH_ and the flag name, for example
HEARTH_HTTP_ADDRESS) or in a YAML file given by --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.DataDir == "" {
				cfg.DataDir = defaultDataDir()
			}
			cfg.LocalAppsHost = !cmd.Flags().Changed("wildcard-access-url") && !cmd.Flags().Changed("apps-host")
			log, err := logs.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			if cfg.ProvisionerKeys, err = readKeys(pskFile, psks); err != nil {
				return usageError{err}
			}
			if oidc.IssuerURL != "" {
				if oidc.ClientID == "" {
					return usageError{errors.New("--oidc-issuer-url needs --oidc-client-id (and usually HEARTH_OIDC_CLIENT_SECRET)")}
				}
				if groupMapping != "" {
					if err := json.Unmarshal([]byte(groupMapping), &oidc.GroupMapping); err != nil {
						return usageError{fmt.Errorf(`--oidc-group-mapping: want a JSON object of claim value to group name, such as {"Platform Team":"platform"}: %w`, err)}
					}
				}
				if groupFilter != "" {
					re, err := regexp.Compile(groupFilter)
					if err != nil {
						return usageError{fmt.Errorf("--oidc-group-regex-filter: %w", err)}
					}
					oidc.GroupFilter = re
				}
				cfg.OIDC = &oidc
			}
			if cfg.ExternalAuth, err = externalauth.Load(extAuthFile, os.Environ()); err != nil {
				return usageError{err}
			}
			cfg.Templates = map[string]string{}
			for _, t := range templates {
				name, dir, ok := strings.Cut(t, "=")
				if st, err := os.Stat(dir); !ok || name == "" || err != nil || !st.IsDir() {
					return usageError{fmt.Errorf("--template %q: want NAME=DIR with a directory of Terraform files", t)}
				}
				cfg.Templates[name] = dir
			}
			cfg.Ready = func(_ net.Addr, accessURL, appsHost string) {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "\nHearth is ready at %s\n  API docs: %s/api/v2/docs\n  Health:   %s/api/v2/health\n", accessURL, accessURL, accessURL)
				if appsHost != "" {
					fmt.Fprintf(out, "  Apps:     SLUG--AGENT--WORKSPACE--OWNER%s\n", strings.TrimPrefix(appsHost, "*"))
				}
				fmt.Fprintf(out, "\nNew here? Open %s in a browser to create the first user (the owner), or with the CLI:\n"+
					"  hearth login %s --first-user-username NAME --first-user-email EMAIL\n"+
					"(built by go tool task dev as bin/hearth: export PATH=\"$PWD/bin:$PATH\")\n\n", accessURL, accessURL)
			}
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.AccessURL, "access-url", "", "URL users and workspaces reach this deployment at (default http:// and the listening address)")
	f.StringVar(&cfg.AgentBinary, "agent-binary", "", "the agent binary workspaces download (hearth-agent for this server's platform); default: hearth-agent beside this binary, else this binary itself")
	f.StringVar(&cfg.HTTPAddress, "http-address", "127.0.0.1:3000", "address to serve HTTP on")
	f.StringVar(&cfg.PostgresURL, "postgres-url", "", "PostgreSQL connection URL; empty runs an embedded PostgreSQL under --data-dir")
	f.IntVar(&cfg.PostgresMaxConns, "postgres-max-conns", db.DefaultMaxConns, "PostgreSQL connections this replica opens at most (mind the server's max_connections across replicas)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the embedded PostgreSQL and other local state (default /var/lib/hearth for root, else ~/.config/hearth)")
	f.StringVar(&cfg.SecretKeyFile, "secret-key-file", "", "file with the deployment's secret key (64 hex digits, e.g. from openssl rand -hex 32); every replica needs the same one (default DATA_DIR/secret.key, made on first start)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to wait for requests and jobs to drain on shutdown")
	f.IntVar(&cfg.Provisioners, "provisioners", 3, "built-in provisioner workers to run (0 leaves all jobs to external workers)")
	f.StringVar(&pskFile, "provisioner-psk-file", "", "file of pre-shared keys external provisioner workers may use, one a line (several allow rotation); without any key external workers are refused")
	f.StringSliceVar(&psks, "provisioner-psk", nil, "pre-shared keys for external provisioner workers, comma-separated; prefer the environment or the file")
	f.DurationVar(&cfg.ProvisionerLease, "provisioner-lease", 30*time.Second, "how long a provisioner job survives its worker's silence before it is retried or failed")
	f.DurationVar(&cfg.CancelGrace, "provisioner-cancel-grace", 60*time.Second, "how long Terraform gets between SIGINT and SIGKILL when a job is canceled")
	f.DurationVar(&cfg.UnmatchedAfter, "provisioner-unmatched-after", time.Minute, "log a provisioner job that waits this long with no worker that has its tags")
	f.IntVar(&cfg.PrebuildsMaxBuilds, "prebuilds-max-builds", 5, "at most this many prebuilt-workspace builds (creations and deletions) under way at once")
	f.IntVar(&cfg.PrebuildsMaxInstances, "prebuilds-max-instances", 20, "the most prebuilt workspaces one preset may ask for (prebuilds.instances); a version asking for more is refused when made active; 0: no cap")
	f.DurationVar(&cfg.PrebuildsEvery, "prebuilds-reconcile-interval", 15*time.Second, "how often each preset's pool of prebuilt workspaces is compared with its prebuilds.instances")
	f.DurationVar(&cfg.Retention.BuildLogs, "retention-build-logs", jobs.DefaultRetention.BuildLogs, "keep build and import logs this long (a workspace's latest build's and a template's active version's stay); 0 keeps them forever")
	f.DurationVar(&cfg.Retention.ExpiredTokens, "retention-expired-tokens", jobs.DefaultRetention.ExpiredTokens, "keep expired sessions and API tokens this long after they expire (to show them as expired); 0 keeps them forever")
	f.DurationVar(&cfg.Retention.Audit, "retention-audit", jobs.DefaultRetention.Audit, "keep audit log entries this long; 0 keeps them forever")
	f.DurationVar(&cfg.Retention.OrphanFiles, "retention-unused-uploads", jobs.DefaultRetention.OrphanFiles, "keep uploaded template archives that no template version uses this long; 0 keeps them forever")
	f.DurationVar(&cfg.Retention.GoneWorkers, "retention-gone-provisioners", jobs.DefaultRetention.GoneWorkers, "forget external provisioner workers not seen for this long; 0 keeps them listed forever")
	f.StringVar(&cfg.TerraformPath, "terraform-path", "", "the built-in workers' terraform (default: terraform on PATH)")
	f.StringArrayVar(&templates, "template", nil, "NAME=DIR: make template NAME from the Terraform files in DIR at start, unless it exists (repeatable)")
	f.StringSliceVar(&cfg.ProviderMirrors, "provider-mirror", nil, "the built-in workers' Terraform provider filesystem mirrors, searched in order (comma-separated or repeated; see go tool task providers)")
	f.BoolVar(&cfg.ProviderDirect, "provider-direct", false, "let the built-in workers' Terraform install providers that no mirror has from their registries (a deployment with internet access); without it, with a mirror, every provider must be in one")
	f.BoolVar(&cfg.DERP, "derp", true, "direct connections: coordinate WireGuard peers between clients and agents and serve DERP at /derp; false sends every connection through the relay")
	f.StringVar(&cfg.STUNAddress, "stun-address", "auto", "UDP address of the STUN server that lets nodes behind NAT learn their public address; auto: the host of --http-address, port 3478; empty: none")
	f.StringVar(&cfg.DERPMapFile, "derp-map-file", "", "a JSON file of more DERP regions for nodes to use ({\"regions\": [{\"id\": 2, \"code\", \"name\", \"url\", \"stun_port\"}]}; \"omit_default_regions\": true leaves out this deployment's own)")
	f.StringSliceVar(&cfg.TailnetEndpoints, "tailnet-endpoints", nil, "networks direct WireGuard paths may use, in CIDR form (comma-separated or repeated), told to every agent and client; unset: any network. Keeps peer-to-peer traffic on the networks meant for it")
	f.StringVar(&cfg.RelayAddress, "relay-address", "", "where other server replicas reach this one to relay agent connections (default: http://HOST:PORT of --http-address)")
	f.StringVar(&cfg.AppsHost, "wildcard-access-url", "", "wildcard host apps are served under, each on a host of its own (SLUG--AGENT--WORKSPACE--OWNER in place of the *), such as *.apps.example.com, with a wildcard DNS record to this deployment; the safe way to serve apps, and the only way to share them unless --dangerous-allow-path-app-sharing. Unset, an access URL on this machine (localhost, 127.0.0.1) gets "+server.LocalAppsPattern+" (browsers resolve *.localhost to this machine); empty serves apps at sandboxed paths of the dashboard only")
	f.StringVar(&cfg.AppsHost, "apps-host", "", "the old name of --wildcard-access-url")
	_ = f.MarkDeprecated("apps-host", "use --wildcard-access-url")
	f.BoolVar(&cfg.AllowPathAppSharing, "dangerous-allow-path-app-sharing", false, "let path apps be opened by others than their workspace's owner, as their sharing level says: the app's code then runs on the dashboard's origin in their browser (sandboxed); prefer --wildcard-access-url")
	f.StringSliceVar(&cfg.UnsandboxedTemplates, "dangerous-unsandboxed-path-apps", nil, "templates (by name, comma-separated) whose path apps are served without the sandbox, for apps that need their own origin's storage, cookies or service workers: their code can then act as whoever opens them, with that user's session; prefer --wildcard-access-url")
	f.StringVar(&oidc.IssuerURL, "oidc-issuer-url", "", "OIDC provider to sign users in with (its issuer URL); empty turns OIDC sign-in off")
	f.StringVar(&oidc.ClientID, "oidc-client-id", "", "OIDC client ID; register ACCESS_URL/api/v2/users/oidc/callback as its redirect URL")
	f.StringVar(&oidc.ClientSecret, "oidc-client-secret", "", "OIDC client secret; prefer the environment variable over the flag, which other users can see in the process list")
	f.StringSliceVar(&oidc.Scopes, "oidc-scopes", []string{"openid", "profile", "email"}, "OIDC scopes to request")
	f.StringSliceVar(&oidc.AllowedDomains, "oidc-allowed-domains", nil, "email domains allowed to sign in with OIDC (default any)")
	f.StringVar(&oidc.UsernameClaim, "oidc-username-claim", "preferred_username", "claim that new users' usernames come from")
	f.StringVar(&oidc.EmailClaim, "oidc-email-claim", "email", "claim that holds the email address")
	f.BoolVar(&oidc.AllowSignUp, "oidc-allow-signups", true, "create users on their first OIDC sign-in")
	f.StringVar(&oidc.GroupField, "oidc-group-field", "", "claim listing a user's groups (such as groups); at each sign-in the user's OIDC memberships become the groups it names (members added by hand stay); empty: no group sync")
	f.StringVar(&groupMapping, "oidc-group-mapping", "", `JSON object renaming the groups claim's values to Hearth group names, such as {"Platform Team":"platform"}`)
	f.StringVar(&groupFilter, "oidc-group-regex-filter", "", "only the groups claim's values this regular expression matches are synced")
	f.BoolVar(&oidc.GroupAutoCreate, "oidc-group-auto-create", false, "create groups the groups claim names that do not exist yet (otherwise they are skipped)")
	f.StringVar(&extAuthFile, "external-auth-config", "", "YAML file listing external auth providers (Git hosts and OAuth2 apps users link their accounts to): "+
		"id, type ("+strings.Join(externalauth.Types(), ", ")+"), client_id, client_secret or client_secret_file, and where not the type's default: "+
		"auth_url, token_url, device_code_url, revoke_url, issuer_url, scopes, regex, device_flow, no_refresh. Also "+externalauth.EnvPrefix+"N_ID, …_CLIENT_ID and so on. "+
		"Register ACCESS_URL/api/v2/external-auth/ID/callback as each app's redirect URL")
	logs = addLogFlags(f)
	bindConfig(cmd)
	return cmd
}

// defaultDataDir is the user's config directory, except for root, whose home is usually closed to the
// unprivileged user the embedded PostgreSQL runs as: root gets the system location.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/hearth"
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "hearth")
	}
	return ".hearth"
}

// readKeys collects pre-shared keys from a file (one a line; blank lines and # comments skipped)
// and from a list.
func readKeys(file string, list []string) ([]string, error) {
	keys := append([]string(nil), list...)
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("provisioner keys: %w", err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, line)
			}
		}
	}
	for _, k := range keys {
		if len(k) < 16 {
			return nil, errors.New("provisioner keys must be at least 16 characters (make one with: openssl rand -hex 32)")
		}
	}
	return keys, nil
}
