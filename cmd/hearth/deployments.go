package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/internal/cliconfig"
)

// clientFlags gives a user command (and its subcommands) --deployment, --url and --token, which
// override the saved sign-in for one call.
func clientFlags(cmds ...*cobra.Command) []*cobra.Command {
	for _, cmd := range cmds {
		pf := cmd.PersistentFlags()
		pf.StringVar(&cliconfig.Overrides.Deployment, "deployment", "", "use this saved deployment instead of the current one (also HEARTH_DEPLOYMENT)")
		pf.StringVar(&cliconfig.Overrides.URL, "url", "", "the deployment's URL (also HEARTH_URL)")
		pf.StringVar(&cliconfig.Overrides.Token, "token", "", "a session or API token (also HEARTH_SESSION_TOKEN)")
	}
	return cmds
}

func deploymentsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployments", Short: "List the deployments you are signed in to, and switch between them"}
	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List saved deployments (* is current)", Args: cobra.NoArgs}
	format := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := cliconfig.Read()
		if err != nil {
			return err
		}
		type row struct {
			Name    string `json:"name"`
			URL     string `json:"url"`
			Current bool   `json:"current"`
		}
		rows := []row{}
		for _, n := range f.Names() {
			rows = append(rows, row{Name: n, URL: f.Deployments[n].URL, Current: n == f.Current})
		}
		return render(cmd, *format, rows, func(w io.Writer, _ bool) {
			if len(rows) == 0 {
				fmt.Fprintln(w, "No deployments: sign in with hearth login URL")
				return
			}
			fmt.Fprintln(w, "\tNAME\tURL")
			for _, r := range rows {
				mark := ""
				if r.Current {
					mark = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", mark, r.Name, r.URL)
			}
		})
	}
	use := &cobra.Command{
		Use:   "use NAME",
		Short: "Make a saved deployment current",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cliconfig.Use(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Now using %s.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, use)
	return cmd
}
