package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/cliconfig"
)

// workspaceRef reads [OWNER/]NAME.
func workspaceRef(ref string) (owner, name string, err error) {
	owner, name = "me", ref
	if o, n, ok := strings.Cut(ref, "/"); ok {
		owner, name = o, n
	}
	if owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", usageError{fmt.Errorf("%q: want [OWNER/]WORKSPACE", ref)}
	}
	return owner, name, nil
}

// workspaceSession is the signed-in session and the workspace [OWNER/]NAME names in it.
func workspaceSession(ctx context.Context, ref string) (*client.ClientWithResponses, cliconfig.Session, *client.Workspace, error) {
	owner, name, err := workspaceRef(ref)
	if err != nil {
		return nil, cliconfig.Session{}, nil, err
	}
	c, s, err := session()
	if err != nil {
		return nil, s, nil, err
	}
	res, err := client.Ok(c.GetWorkspaceByOwnerAndNameWithResponse(ctx, owner, name))
	if err != nil {
		return nil, s, nil, remote(s.URL, err)
	}
	return c, s, res.JSON200, nil
}

func createCommand() *cobra.Command {
	var tmpl, preset string
	var params []string
	var noWait, yes bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a workspace from a template and wait until it runs",
		Long: `Create a workspace and follow its first build until it is running.

Parameters come from --parameter NAME=VALUE; a required one that is missing is asked for when a
terminal is attached (a numbered list for one with options, several numbers for a list(string)
one; its rules checked at the prompt), and is an error otherwise or with --yes. Values are checked
against the template's rules before anything is submitted.

A template's presets (coder_workspace_preset) are named sets of values: --preset NAME uses one; the
template's default preset is used unless --preset none.`,
		Example: `  hearth create dev --template local
  hearth create dev --template local --parameter shell=sh --parameter history_lines=5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given, err := parseParameters(params)
			if err != nil {
				return err
			}
			c, s, err := session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if tmpl == "" {
				// With one template there is nothing to choose.
				list, err := client.Ok(c.ListTemplatesWithResponse(ctx))
				if err != nil {
					return remote(s.URL, err)
				}
				var names []string
				for _, t := range list.JSON200.Templates {
					names = append(names, t.Name)
				}
				if len(names) != 1 {
					return usageError{fmt.Errorf("choose a template with --template: %s", listOr(names))}
				}
				tmpl = names[0]
				fmt.Fprintf(cmd.ErrOrStderr(), "Using template %s.\n", tmpl)
			}
			t, err := client.Ok(c.GetTemplateWithResponse(ctx, tmpl))
			if err != nil {
				return remote(s.URL, err)
			}
			v, err := client.Ok(c.GetTemplateVersionWithResponse(ctx, t.JSON200.ActiveVersionId))
			if err != nil {
				return remote(s.URL, err)
			}
			chosen, err := choosePreset(cmd, v.JSON200.Presets, preset, given)
			if err != nil {
				return err
			}
			params, refresh := v.JSON200.Parameters, func(chosen map[string]string) []client.ProvisionerParameter {
				return dynamicParameters(ctx, c, v.JSON200.Id, v.JSON200.Parameters, chosen)
			}
			if dyn := refresh(given); dyn != nil {
				params = dyn
			}
			values, err := chooseParameters(cmd, params, given, nil, yes, refresh)
			if err != nil {
				return err
			}
			body := client.CreateWorkspaceJSONRequestBody{Name: args[0], Template: tmpl, Parameters: &values}
			if chosen != "" {
				body.Preset = &chosen
			}
			res, err := client.Ok(c.CreateWorkspaceWithResponse(ctx, body))
			if err != nil {
				return remote(s.URL, err)
			}
			w := res.JSON201
			out := cmd.ErrOrStderr()
			fmt.Fprintf(out, "Creating %s from %s (build #%d)...\n", w.Name, w.TemplateName, w.LatestBuild.Number)
			if noWait {
				return nil
			}
			if err := followBuild(ctx, c, out, w.LatestBuild.Id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Workspace %s is running: hearth ssh %s\n", w.Name, w.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "template", "t", "", "the template (name or ID); may be left out when there is only one")
	cmd.Flags().StringArrayVarP(&params, "parameter", "p", nil, "a parameter value, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the build is queued")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "never ask: defaults for what is left out, an error for a required parameter")
	cmd.Flags().StringVar(&preset, "preset", "", "a preset of the template, by name (default: its default preset; none for none)")
	return cmd
}

func listCommand() *cobra.Command {
	var all bool
	var search string
	var limit int64
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your workspaces (--all: every one you may see, those shared with you included)",
		Example: `  hearth list
  hearth list --all --search template:local -o json`,
		Args: cobra.NoArgs,
	}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		q := strings.TrimSpace(search)
		if !all {
			q = strings.TrimSpace("owner:me " + q)
		}
		res, err := client.Ok(c.ListWorkspacesWithResponse(cmd.Context(), &client.ListWorkspacesParams{Q: &q, Limit: &limit}))
		if err != nil {
			return remote(s.URL, err)
		}
		list := res.JSON200.Workspaces
		return render(cmd, *format, list, func(w io.Writer, wide bool) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No workspaces. Create one with: hearth create NAME --template TEMPLATE")
				return
			}
			if wide {
				fmt.Fprintln(w, "NAME\tOWNER\tTEMPLATE\tSTATUS\tLAST USED\tBUILD\tOUTDATED\tID")
			} else {
				fmt.Fprintln(w, "NAME\tOWNER\tTEMPLATE\tSTATUS\tLAST USED")
			}
			for _, ws := range list {
				line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", ws.Name, ws.OwnerName, ws.TemplateName, paint(cmd.OutOrStdout(), string(ws.Status)), ago(&ws.LastUsedAt))
				if wide {
					line += fmt.Sprintf("\t#%d %s\t%v\t%s", ws.LatestBuild.Number, ws.LatestBuild.Transition, ws.Outdated, ws.Id)
				}
				fmt.Fprintln(w, line)
			}
			if int64(len(list)) < res.JSON200.Count {
				fmt.Fprintf(w, "(%d of %d; --limit shows more)\n", len(list), res.JSON200.Count)
			}
		})
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "every workspace you may see (those shared with you, or everyone's for admins and auditors), not only yours")
	cmd.Flags().StringVar(&search, "search", "", "filters: owner:NAME, template:NAME, status:STATUS, or words in the name")
	cmd.Flags().Int64Var(&limit, "limit", 100, "at most this many (1-200)")
	return cmd
}

func showCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show WORKSPACE",
		Short: "Show a workspace: status, latest build, resources, agents and apps",
		Args:  cobra.ExactArgs(1),
	}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		_, _, w, err := workspaceSession(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return render(cmd, *format, w, func(out io.Writer, _ bool) {
			b := w.LatestBuild
			fmt.Fprintf(out, "Workspace:\t%s/%s\n", w.OwnerName, w.Name)
			fmt.Fprintf(out, "Template:\t%s%s\n", w.TemplateName, map[bool]string{true: " (outdated: hearth update " + w.Name + ")"}[w.Outdated])
			fmt.Fprintf(out, "Status:\t%s\n", paint(cmd.OutOrStdout(), string(w.Status)))
			fmt.Fprintf(out, "Build:\t#%d %s, %s\n", b.Number, b.Transition, b.Status)
			if b.Error != nil {
				fmt.Fprintf(out, "Error:\t%s\n", *b.Error)
			}
			fmt.Fprintf(out, "Last used:\t%s\n", ago(&w.LastUsedAt))
			for _, r := range b.Resources {
				if r.Hide {
					continue
				}
				fmt.Fprintf(out, "Resource:\t%s %s\n", r.Type, r.Name)
				for _, a := range r.Agents {
					fmt.Fprintf(out, "  Agent:\t%s: %s, %s\n", a.Name, paint(cmd.OutOrStdout(), string(a.Status)), a.LifecycleState)
					for _, app := range a.Apps {
						where := "/@" + w.OwnerName + "/" + w.Name + "." + a.Name + "/apps/" + app.Slug + "/"
						if app.Url == nil || *app.Url == "" {
							where = "command: " + deref(app.Command)
						}
						fmt.Fprintf(out, "    App:\t%s %s\n", app.Slug, where)
					}
				}
			}
		})
	}
	return cmd
}

// buildCommand makes start, stop, restart and update: a build of a transition, followed to its end.
func buildCommand(use, short string, transitions []string, update bool) *cobra.Command {
	var params []string
	var noWait, yes bool
	cmd := &cobra.Command{
		Use:   use + " WORKSPACE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given, err := parseParameters(params)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			body := client.CreateWorkspaceBuildJSONRequestBody{}
			if update || len(given) > 0 {
				versionID := w.LatestBuild.TemplateVersionId
				if update {
					t, err := client.Ok(c.GetTemplateWithResponse(ctx, w.TemplateId))
					if err != nil {
						return remote(s.URL, err)
					}
					versionID = t.JSON200.ActiveVersionId
					body.TemplateVersionId = &versionID
					if versionID == w.LatestBuild.TemplateVersionId && len(given) == 0 && w.Status == "running" {
						fmt.Fprintf(cmd.OutOrStdout(), "Workspace %s is already on the active version of %s.\n", w.Name, w.TemplateName)
						return nil
					}
				}
				v, err := client.Ok(c.GetTemplateVersionWithResponse(ctx, versionID))
				if err != nil {
					return remote(s.URL, err)
				}
				if update && versionID != w.LatestBuild.TemplateVersionId {
					msg := ""
					if v.JSON200.Message != "" {
						msg = ": " + v.JSON200.Message
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "Updating %s to version %s of %s%s\n", w.Name, v.JSON200.Name, w.TemplateName, msg)
				}
				// Asked for: new required parameters, and those whose value the version no longer allows.
				current := map[string]string{}
				for _, p := range w.LatestBuild.Parameters {
					current[p.Name] = p.Value
				}
				values, err := chooseParameters(cmd, v.JSON200.Parameters, given, current, yes, nil)
				if err != nil {
					return err
				}
				if len(values) > 0 {
					body.Parameters = &values
				}
			}
			out := cmd.ErrOrStderr()
			for _, tr := range transitions {
				body.Transition = client.CreateBuildInputBodyTransition(tr)
				res, err := client.Ok(c.CreateWorkspaceBuildWithResponse(ctx, w.Id, body))
				if err != nil {
					return remote(s.URL, err)
				}
				fmt.Fprintf(out, "%s %s (build #%d)...\n", map[string]string{"start": "Starting", "stop": "Stopping"}[tr], w.Name, res.JSON201.Number)
				if noWait {
					fmt.Fprintf(cmd.OutOrStdout(), "Build #%d of %s is queued: hearth logs -f %s follows it.\n", res.JSON201.Number, w.Name, w.Name)
					return nil
				}
				if err := followBuild(ctx, c, out, res.JSON201.Id); err != nil {
					return err
				}
			}
			if transitions[len(transitions)-1] == "stop" {
				fmt.Fprintf(cmd.OutOrStdout(), "Workspace %s is stopped (its home is kept): hearth start %s brings it back.\n", w.Name, w.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Workspace %s is running: hearth ssh %s\n", w.Name, w.Name)
			}
			return nil
		},
	}
	if transitions[len(transitions)-1] == "start" {
		cmd.Flags().StringArrayVarP(&params, "parameter", "p", nil, "a new parameter value, NAME=VALUE (repeatable)")
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "never ask: an error for a parameter that needs a value")
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the build is queued")
	return cmd
}

func deleteCommand() *cobra.Command {
	var orphan, yes, noWait bool
	cmd := &cobra.Command{
		Use:   "delete WORKSPACE",
		Short: "Delete a workspace and its resources",
		Long: `Delete a workspace: a build that destroys its resources, then the workspace is gone.
--orphan removes it without running Terraform, for a workspace whose resources are already gone.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := confirm(cmd, yes, fmt.Sprintf("Delete workspace %s/%s and everything in it?", w.OwnerName, w.Name)); err != nil {
				return err
			}
			res, err := client.Ok(c.DeleteWorkspaceWithResponse(ctx, w.Id, &client.DeleteWorkspaceParams{Orphan: &orphan}))
			if err != nil {
				return remote(s.URL, err)
			}
			out := cmd.ErrOrStderr()
			b := res.JSON202
			if b == nil || b.JobId == nil || noWait {
				fmt.Fprintf(out, "Deleting %s.\n", w.Name)
				return nil
			}
			fmt.Fprintf(out, "Deleting %s (build #%d)...\n", w.Name, b.Number)
			if err := followBuild(ctx, c, out, b.Id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Workspace %s is deleted, with its resources: hearth list shows what is left.\n", w.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&orphan, "orphan", false, "remove without running Terraform (the resources are already gone)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the build is queued")
	return cmd
}

func logsCommand() *cobra.Command {
	var follow bool
	var number int32
	cmd := &cobra.Command{
		Use:   "logs WORKSPACE",
		Short: "Show a workspace build's logs (the latest, or --build N); -f follows a running one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			buildID := w.LatestBuild.Id
			if number > 0 {
				limit := int64(200)
				res, err := client.Ok(c.ListWorkspaceBuildsWithResponse(ctx, w.Id, &client.ListWorkspaceBuildsParams{Limit: &limit}))
				if err != nil {
					return remote(s.URL, err)
				}
				buildID = ""
				for _, b := range res.JSON200.Builds {
					if b.Number == number {
						buildID = b.Id
					}
				}
				if buildID == "" {
					return fmt.Errorf("workspace %s has no build #%d", w.Name, number)
				}
			}
			if follow {
				return followBuild(ctx, c, cmd.OutOrStdout(), buildID)
			}
			res, err := client.Ok(c.GetWorkspaceBuildLogsWithResponse(ctx, buildID, &client.GetWorkspaceBuildLogsParams{}))
			if err != nil {
				return remote(s.URL, err)
			}
			stage := ""
			for _, l := range res.JSON200.Logs {
				if string(l.Stage) != stage {
					stage = string(l.Stage)
					fmt.Fprintf(cmd.OutOrStdout(), "==> %s\n", stage)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", l.Time.Format("15:04:05"), l.Output)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the build until it ends")
	cmd.Flags().Int32Var(&number, "build", 0, "the build's number (default the latest)")
	return cmd
}
