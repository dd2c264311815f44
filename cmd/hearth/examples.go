package main

import "github.com/spf13/cobra"

// helpExamples are the --help examples of commands that do not set their own, by command path. Every
// command has one (TestEveryCommandHasAnExample).
var helpExamples = map[string]string{
	"hearth": `  hearth login http://127.0.0.1:3000     # sign in (on a new deployment, --first-user-* creates the owner)
  hearth create dev --template local      # a workspace, followed until it runs
  hearth ssh dev                          # a shell in it`,
	"hearth agent":                 `  CODER_AGENT_URL=https://hearth.example.com CODER_AGENT_TOKEN=... hearth agent   # what a template's init script runs`,
	"hearth completion":            `  hearth completion bash > /etc/bash_completion.d/hearth`,
	"hearth completion bash":       `  source <(hearth completion bash)`,
	"hearth completion fish":       `  hearth completion fish > ~/.config/fish/completions/hearth.fish`,
	"hearth completion powershell": `  hearth completion powershell | Out-String | Invoke-Expression`,
	"hearth completion zsh":        `  hearth completion zsh > "${fpath[1]}/_hearth"`,
	"hearth config-ssh":            "  hearth config-ssh            # then: ssh dev.hearth, scp notes.txt dev.hearth:\n  hearth config-ssh --remove",
	"hearth delete":                "  hearth delete dev\n  hearth delete dev --yes      # in scripts: no question asked",
	"hearth deployments":           "  hearth deployments list\n  hearth deployments use hearth.example.com",
	"hearth deployments list":      `  hearth deployments list`,
	"hearth deployments use":       `  hearth deployments use hearth.example.com`,
	"hearth logout":                `  hearth logout`,
	"hearth logs":                  "  hearth logs dev              # the latest build's logs\n  hearth logs dev -f           # follow a running build\n  hearth logs dev --build 3",
	"hearth open":                  `  hearth open app dev files`,
	"hearth open app":              "  hearth open app dev files\n  hearth open app dev.main files --no-open   # only print the URL",
	"hearth openapi":               "  hearth openapi > openapi.yaml\n  hearth openapi --format json",
	"hearth speedtest":             "  hearth speedtest dev                          # Path: direct to ...  Upload: 812.4 Mbit/s ...\n  hearth speedtest dev -t 2s --direct-wait 0    # at once, over whatever path is up",
	"hearth netcheck":              "  hearth netcheck                               # UDP, public address, NAT, DERP latencies\n  hearth netcheck -o json",
	"hearth ping":                  "  hearth ping dev                               # pong from dev via direct 192.0.2.7:41641 in 1.2ms\n  HEARTH_CONNECTION_PATH=relay hearth ping dev  # time the relay instead",
	"hearth port-forward":          "  hearth port-forward dev --tcp 8080             # localhost:8080 to the workspace's 8080\n  hearth port-forward dev --tcp 3000:8080 --tcp 5432",
	"hearth provisioner":           `  HEARTH_PROVISIONER_PSK=... hearth provisioner start --url https://hearth.example.com`,
	"hearth provisioners":          "  hearth provisioners list\n  hearth provisioners jobs",
	"hearth provisioners jobs":     "  hearth provisioners jobs\n  hearth provisioners jobs -o json",
	"hearth provisioners list":     `  hearth provisioners list`,
	"hearth proxies":               "  hearth proxies create eu\n  hearth proxies list",
	"hearth proxies delete":        `  hearth proxies delete eu`,
	"hearth proxies list":          `  hearth proxies list`,
	"hearth restart":               `  hearth restart dev`,
	"hearth schedule":              "  hearth schedule show dev\n  hearth schedule stop dev 8h",
	"hearth schedule extend":       `  hearth schedule extend dev 2h`,
	"hearth schedule show":         `  hearth schedule show dev`,
	"hearth schedule start":        "  hearth schedule start dev 'CRON_TZ=Europe/Berlin 30 8 * * 1-5'\n  hearth schedule start dev off",
	"hearth schedule stop":         "  hearth schedule stop dev 8h\n  hearth schedule stop dev off       # run until stopped\n  hearth schedule stop dev default   # the template's",
	"hearth schedule wake":         `  hearth schedule wake dev`,
	"hearth server":                "  hearth server                                        # embedded PostgreSQL, http://127.0.0.1:3000\n  hearth server --postgres-url postgres://hearth@db/hearth --access-url https://hearth.example.com \\\n    --wildcard-access-url '*.apps.example.com'",
	"hearth show":                  "  hearth show dev\n  hearth show alice/dev -o json",
	"hearth ssh":                   "  hearth ssh dev\n  hearth ssh dev -- uname -a\n  hearth ssh -e FOO=bar dev -- 'echo $FOO; exit 3'   # prints bar; hearth exits 3\n  hearth ssh alice/dev.main",
	"hearth start":                 `  hearth start dev`,
	"hearth stop":                  `  hearth stop dev`,
	"hearth templates":             "  hearth templates init --example local\n  hearth templates push local --activate\n  hearth templates list",
	"hearth modules":               "  hearth modules push ./hello --source registry.coder.com/acme/hello/coder --version 1.0.0\n  hearth modules list",
	"hearth templates delete":      `  hearth templates delete old-template`,
	"hearth templates list":        "  hearth templates list\n  hearth templates list -o json",
	"hearth templates pull":        "  hearth templates pull local ./local\n  hearth templates pull local - --version v2 > local.tar",
	"hearth templates versions":    `  hearth templates versions local`,
	"hearth tokens":                "  hearth tokens create ci --lifetime 24h\n  hearth tokens list",
	"hearth tokens create":         "  hearth tokens create ci --lifetime 24h\n  hearth tokens create dashboards --scope workspace:read",
	"hearth tokens list":           `  hearth tokens list`,
	"hearth tokens revoke":         `  hearth tokens revoke 4c2a9d1f`,
	"hearth update":                `  hearth update dev            # onto the template's active version, asking for new parameters`,
	"hearth doctor":                "  hearth doctor docker\n  hearth doctor docker --remove --yes",
	"hearth external-auth":         "  hearth external-auth list\n  hearth external-auth link github",
	"hearth external-auth link":    "  hearth external-auth link github\n  hearth external-auth link gitlab --no-browser --wait 2m",
	"hearth external-auth list":    "  hearth external-auth list\n  hearth external-auth list -o wide",
	"hearth external-auth unlink":  `  hearth external-auth unlink github`,
	"hearth groups":                "  hearth groups list\n  hearth groups create platform --members ada,bob --quota 20",
	"hearth groups delete":         `  hearth groups delete platform`,
	"hearth groups list":           "  hearth groups list\n  hearth groups list -o json",
	"hearth groups show":           `  hearth groups show platform`,
	"hearth sharing":               "  hearth sharing share dev --user bob\n  hearth sharing status dev\n  hearth sharing remove dev --user bob",
	"hearth sharing status":        `  hearth sharing status dev`,
	"hearth users":                 "  hearth users list\n  hearth users create bob --email bob@example.com --role template-admin",
	"hearth users activate":        `  hearth users activate bob`,
	"hearth users create":          "  hearth users create bob --email bob@example.com              # signs in with OIDC\n  hearth users create bob --email bob@example.com --password 'a long one'",
	"hearth users delete":          `  hearth users delete bob`,
	"hearth users list":            "  hearth users list\n  hearth users list --status suspended --search example.com",
	"hearth users suspend":         `  hearth users suspend bob`,
	"hearth version":               `  hearth version`,
	"hearth whoami":                `  hearth whoami`,
}

// addExamples gives every command of the tree that has none its example from helpExamples.
func addExamples(cmd *cobra.Command) {
	if cmd.Example == "" {
		cmd.Example = helpExamples[cmd.CommandPath()]
	}
	for _, c := range cmd.Commands() {
		addExamples(c)
	}
}

// missingExamples lists the commands of the tree without an example.
func missingExamples(cmd *cobra.Command) []string {
	var missing []string
	if cmd.Example == "" && !cmd.Hidden && cmd.Name() != "help" {
		missing = append(missing, cmd.CommandPath())
	}
	for _, c := range cmd.Commands() {
		missing = append(missing, missingExamples(c)...)
	}
	return missing
}
