package main

import (
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"runtime"
	"sort"
	"strings"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
)

func usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Aliases: []string{"user"}, Short: "Manage users (user admins)"}

	var email, name, password string
	var roles []string
	create := &cobra.Command{
		Use:   "create USERNAME --email EMAIL",
		Short: "Create a user (without --password, the user signs in only with OIDC)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" {
				return usageError{fmt.Errorf("--email is required")}
			}
			c, s, err := session()
			if err != nil {
				return err
			}
			body := client.CreateUserJSONRequestBody{Username: args[0], Email: openapi_types.Email(email)}
			if name != "" {
				body.Name = &name
			}
			if password != "" {
				body.Password = &password
			}
			if len(roles) > 0 {
				rs := make([]client.CreateUserInputBodyRoles, len(roles))
				for i, r := range roles {
					rs[i] = client.CreateUserInputBodyRoles(r)
				}
				body.Roles = &rs
			}
			res, err := client.Ok(c.CreateUserWithResponse(cmd.Context(), body))
			if err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created user %s (%s).\n", res.JSON201.Username, res.JSON201.Id)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "the user's email address")
	create.Flags().StringVar(&name, "name", "", "the user's full name")
	create.Flags().StringVar(&password, "password", "", "a password (at least 8 characters); prefer OIDC, or have them change it")
	create.Flags().StringSliceVar(&roles, "role", nil, "roles beyond member: owner, user-admin, template-admin, auditor")

	var search, status string
	var limit int32
	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List users", Args: cobra.NoArgs}
	format := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		p := &client.ListUsersParams{Limit: &limit}
		if search != "" {
			p.Search = &search
		}
		if status != "" {
			st := client.ListUsersParamsStatus(status)
			p.Status = &st
		}
		res, err := client.Ok(c.ListUsersWithResponse(cmd.Context(), p))
		if err != nil {
			return remote(s.URL, err)
		}
		users := res.JSON200.Users
		return render(cmd, *format, users, func(w io.Writer, wide bool) {
			fmt.Fprint(w, "USERNAME\tEMAIL\tSTATUS\tROLES")
			if wide {
				fmt.Fprint(w, "\tNAME\tCREATED\tID")
			}
			fmt.Fprintln(w)
			for _, u := range users {
				roles := strings.Join(u.Roles, ",")
				if roles == "" {
					roles = "member"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s", u.Username, u.Email, paint(cmd.OutOrStdout(), string(u.Status)), roles)
				if wide {
					fmt.Fprintf(w, "\t%s\t%s\t%s", u.Name, ago(&u.CreatedAt), u.Id)
				}
				fmt.Fprintln(w)
			}
			if int64(len(users)) < res.JSON200.Count {
				fmt.Fprintf(w, "(%d of %d; --limit shows more)\n", len(users), res.JSON200.Count)
			}
		})
	}
	list.Flags().StringVar(&search, "search", "", "part of a username, email or name")
	list.Flags().StringVar(&status, "status", "", "only active or suspended users")
	list.Flags().Int32Var(&limit, "limit", 100, "at most this many (1-200)")

	act := func(use, short, done string, call func(cmd *cobra.Command, c *client.ClientWithResponses, user string) error, ask bool) *cobra.Command {
		var yes bool
		sub := &cobra.Command{Use: use + " USER", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, s, err := session()
				if err != nil {
					return err
				}
				if ask {
					if err := confirm(cmd, yes, "Delete user "+args[0]+"?"); err != nil {
						return err
					}
				}
				if err := call(cmd, c, args[0]); err != nil {
					return remote(s.URL, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s.\n", done, args[0])
				return nil
			}}
		if ask {
			sub.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
		}
		return sub
	}
	suspend := act("suspend", "Suspend a user: their sessions and tokens stop working", "Suspended", func(cmd *cobra.Command, c *client.ClientWithResponses, u string) error {
		_, err := client.Ok(c.SuspendUserWithResponse(cmd.Context(), u))
		return err
	}, false)
	activate := act("activate", "Activate a suspended user", "Activated", func(cmd *cobra.Command, c *client.ClientWithResponses, u string) error {
		_, err := client.Ok(c.ActivateUserWithResponse(cmd.Context(), u))
		return err
	}, false)
	del := act("delete", "Delete a user", "Deleted", func(cmd *cobra.Command, c *client.ClientWithResponses, u string) error {
		_, err := client.Ok(c.DeleteUserWithResponse(cmd.Context(), u))
		return err
	}, true)
	cmd.AddCommand(create, list, suspend, activate, del)
	return cmd
}

func provisionersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "provisioners", Short: "See provisioner workers and the job queue"}
	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List provisioner workers seen recently", Args: cobra.NoArgs}
	listFormat := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListProvisionersWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		workers := res.JSON200.Workers
		return render(cmd, *listFormat, workers, func(w io.Writer, _ bool) {
			if len(workers) == 0 {
				fmt.Fprintln(w, "No provisioner workers: start one with hearth provisioner start, or run the server with --provisioners N")
				return
			}
			fmt.Fprintln(w, "NAME\tTAGS\tBUILT-IN\tJOB\tLAST SEEN\tVERSION")
			for _, p := range workers {
				job := "idle"
				if p.CurrentJobId != nil {
					job = fmt.Sprintf("#%d", *p.CurrentJobId)
				}
				fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%s\t%s\n", p.Name, tags(p.Tags), p.Builtin, job, ago(&p.LastSeenAt), p.Version)
			}
		})
	}
	jobs := &cobra.Command{Use: "jobs", Short: "List queued and running provisioner jobs with their queue positions", Args: cobra.NoArgs}
	jobsFormat := outputFlag(jobs)
	jobs.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListProvisionerJobsWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		list := res.JSON200.Jobs
		return render(cmd, *jobsFormat, list, func(w io.Writer, _ bool) {
			if len(list) == 0 {
				fmt.Fprintln(w, "The queue is empty.")
				return
			}
			fmt.Fprintln(w, "ID\tKIND\tSTATE\tPOSITION\tTAGS\tATTEMPT\tQUEUED")
			for _, j := range list {
				pos := "-"
				if j.QueuePosition > 0 {
					pos = fmt.Sprint(j.QueuePosition)
				}
				state := j.State
				if j.NoMatchingWorker {
					state += " (no worker has its tags)"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", j.Id, j.Kind, state, pos, tags(j.Tags), j.Attempt, ago(&j.CreatedAt))
			}
		})
	}
	cmd.AddCommand(list, jobs)
	return cmd
}

func tags(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func openCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "open", Short: "Open a workspace's app in the browser"}
	var noOpen bool
	app := &cobra.Command{
		Use:   "app WORKSPACE[.AGENT] SLUG",
		Short: "Open a workspace app (prints its URL; opens a browser when one can be started)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, t, err := target(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			c, err := client.Dial(s.URL, s.Token, "cli")
			if err != nil {
				return err
			}
			a, err := client.Ok(c.GetWorkspaceAgentWithResponse(cmd.Context(), t.AgentID))
			if err != nil {
				return remote(s.URL, err)
			}
			var slugs []string
			for _, app := range a.JSON200.Apps {
				slugs = append(slugs, app.Slug)
				if app.Slug != args[1] {
					continue
				}
				u := fmt.Sprintf("%s/@%s/%s.%s/apps/%s/", s.URL, a.JSON200.OwnerName, a.JSON200.WorkspaceName, a.JSON200.Name, app.Slug)
				if h, err := client.Ok(c.GetApplicationsHostWithResponse(cmd.Context())); err == nil && h.JSON200.Host != "" {
					u = subdomainURL(s.URL, h.JSON200.Host, app.Slug+"--"+a.JSON200.Name+"--"+a.JSON200.WorkspaceName+"--"+a.JSON200.OwnerName)
				}
				if app.Url == nil || *app.Url == "" {
					u = fmt.Sprintf("%s/@%s/%s.%s/terminal?command=%s", s.URL, a.JSON200.OwnerName, a.JSON200.WorkspaceName, a.JSON200.Name, deref(app.Command))
				}
				fmt.Fprintln(cmd.OutOrStdout(), u)
				if !noOpen {
					browse(u)
				}
				return nil
			}
			return fmt.Errorf("workspace %s has no app %q (it has %s)", args[0], args[1], listOr(slugs))
		},
	}
	app.Flags().BoolVar(&noOpen, "no-open", false, "only print the URL")
	cmd.AddCommand(app)
	return cmd
}

// subdomainURL is an app's address on its own host: label in place of the * of the wildcard
// host, with the scheme and port of the deployment's URL.
func subdomainURL(base, wildcard, label string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	host := strings.ToLower(label) + strings.TrimPrefix(wildcard, "*")
	if u.Port() != "" {
		host += ":" + u.Port()
	}
	return u.Scheme + "://" + host + "/"
}

// browse starts the desktop's browser on u when there is one; quietly does nothing otherwise.
func browse(u string) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	if p, err := exec.LookPath(name); err == nil {
		_ = exec.Command(p, u).Start() //nolint:gosec,noctx // the user's browser, left running
	}
}
