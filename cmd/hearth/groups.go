package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
)

func groupsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Aliases: []string{"group"}, Short: "Manage groups of users (user admins; everyone may list them)"}

	var display string
	var members []string
	var quota int32
	create := &cobra.Command{Use: "create NAME", Short: "Create a group", Args: cobra.ExactArgs(1),
		Example: "  hearth groups create platform --display-name 'Platform team' --members ada,bob",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			body := client.CreateGroupJSONRequestBody{Name: args[0]}
			if display != "" {
				body.DisplayName = &display
			}
			if len(members) > 0 {
				body.Members = &members
			}
			if quota != 0 {
				body.QuotaAllowance = &quota
			}
			res, err := client.Ok(c.CreateGroupWithResponse(cmd.Context(), body))
			if err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created group %s with %d members.\n", res.JSON201.Name, res.JSON201.MemberCount)
			return nil
		}}
	create.Flags().StringVar(&display, "display-name", "", "a name for people")
	create.Flags().StringSliceVar(&members, "members", nil, "usernames to add (comma-separated or repeated)")
	create.Flags().Int32Var(&quota, "quota", 0, "daily credits each member may spend on running workspaces (a user's allowance is the sum over their groups)")

	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List groups", Args: cobra.NoArgs}
	format := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListGroupsWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		groups := res.JSON200.Groups
		return render(cmd, *format, groups, func(w io.Writer, wide bool) {
			fmt.Fprint(w, "NAME\tDISPLAY NAME\tMEMBERS\tQUOTA")
			if wide {
				fmt.Fprint(w, "\tCREATED\tID")
			}
			fmt.Fprintln(w)
			for _, g := range groups {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d", g.Name, g.DisplayName, g.MemberCount, g.QuotaAllowance)
				if wide {
					fmt.Fprintf(w, "\t%s\t%s", ago(&g.CreatedAt), g.Id)
				}
				fmt.Fprintln(w)
			}
		})
	}

	show := &cobra.Command{Use: "show NAME", Short: "Show a group and its members", Args: cobra.ExactArgs(1)}
	showFormat := outputFlag(show)
	show.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.GetGroupWithResponse(cmd.Context(), args[0]))
		if err != nil {
			return remote(s.URL, err)
		}
		g := res.JSON200
		return render(cmd, *showFormat, g, func(w io.Writer, _ bool) {
			if g.Everyone != nil && *g.Everyone {
				fmt.Fprintf(w, "%s: every user (%d)\n", g.Name, g.MemberCount)
				return
			}
			fmt.Fprintln(w, "USERNAME\tNAME\tSOURCE")
			if g.Members != nil {
				for _, m := range *g.Members {
					fmt.Fprintf(w, "%s\t%s\t%s\n", m.Username, m.Name, m.Source)
				}
			}
		})
	}

	var rename string
	var add, remove []string
	edit := &cobra.Command{Use: "edit NAME", Short: "Rename a group, or add and remove members", Args: cobra.ExactArgs(1),
		Example: "  hearth groups edit platform --add carol --remove bob",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			body := client.UpdateGroupJSONRequestBody{}
			if rename != "" {
				body.Name = &rename
			}
			if cmd.Flags().Changed("display-name") {
				body.DisplayName = &display
			}
			if len(add) > 0 {
				body.AddMembers = &add
			}
			if cmd.Flags().Changed("quota") {
				body.QuotaAllowance = &quota
			}
			if len(remove) > 0 {
				body.RemoveMembers = &remove
			}
			res, err := client.Ok(c.UpdateGroupWithResponse(cmd.Context(), args[0], body))
			if err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Group %s has %d members.\n", res.JSON200.Name, res.JSON200.MemberCount)
			return nil
		}}
	edit.Flags().StringVar(&rename, "name", "", "a new name")
	edit.Flags().StringVar(&display, "display-name", "", "a new display name")
	edit.Flags().StringSliceVar(&add, "add", nil, "usernames to add")
	edit.Flags().StringSliceVar(&remove, "remove", nil, "usernames to remove")
	edit.Flags().Int32Var(&quota, "quota", 0, "a new daily credit allowance for each member")

	var yes bool
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a group (its grants on templates and workspaces go with it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			if err := confirm(cmd, yes, "Delete group "+args[0]+"?"); err != nil {
				return err
			}
			if _, err := client.Ok(c.DeleteGroupWithResponse(cmd.Context(), args[0])); err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s.\n", args[0])
			return nil
		}}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.AddCommand(create, list, show, edit, del)
	return cmd
}

// accessChange reads --user NAME[:ROLE] and --group NAME[:ROLE] (ROLE use, the default, or admin)
// and --remove-user/--remove-group NAME into a change of an access list.
func accessChange(users, groups, removeUsers, removeGroups []string) (client.AccessChange, error) {
	read := func(flag string, in, gone []string) (map[string]string, error) {
		out := map[string]string{}
		for _, v := range in {
			name, role, ok := strings.Cut(v, ":")
			if !ok {
				role = "use"
			}
			if name == "" || (role != "use" && role != "admin") {
				return nil, usageError{fmt.Errorf("--%s %q: want NAME, NAME:use or NAME:admin", flag, v)}
			}
			out[name] = role
		}
		for _, name := range gone {
			out[name] = ""
		}
		return out, nil
	}
	u, err := read("user", users, removeUsers)
	if err != nil {
		return client.AccessChange{}, err
	}
	g, err := read("group", groups, removeGroups)
	if err != nil {
		return client.AccessChange{}, err
	}
	return client.AccessChange{Users: &u, Groups: &g}, nil
}

// printAccess shows an access list.
func printAccess(cmd *cobra.Command, format string, l *client.AccessList) error {
	return render(cmd, format, l, func(w io.Writer, _ bool) {
		fmt.Fprintln(w, "KIND\tNAME\tROLE")
		for _, g := range l.Groups {
			fmt.Fprintf(w, "group\t%s\t%s\n", g.Name, g.Role)
		}
		for _, u := range l.Users {
			fmt.Fprintf(w, "user\t%s\t%s\n", u.Name, u.Role)
		}
		if len(l.Groups)+len(l.Users) == 0 {
			fmt.Fprintln(w, "(nobody)")
		}
	})
}

// accessFlags adds the flags accessChange reads.
func accessFlags(cmd *cobra.Command, users, groups, removeUsers, removeGroups *[]string) {
	cmd.Flags().StringSliceVar(users, "user", nil, "a user to grant, as NAME (use) or NAME:admin (repeatable)")
	cmd.Flags().StringSliceVar(groups, "group", nil, "a group to grant, as NAME (use) or NAME:admin (repeatable)")
	cmd.Flags().StringSliceVar(removeUsers, "remove-user", nil, "a user to take away (repeatable)")
	cmd.Flags().StringSliceVar(removeGroups, "remove-group", nil, "a group to take away (repeatable)")
}

func sharingCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sharing", Short: "Share a workspace with users and groups, or stop sharing it"}
	var users, groups, removeUsers, removeGroups []string
	share := &cobra.Command{Use: "share [OWNER/]WORKSPACE", Short: "Share a workspace: use (connect, SSH, apps, start and stop) or admin (also update, delete, share)",
		Args: cobra.ExactArgs(1),
		Example: `  hearth sharing share dev --user bob            # bob may connect: hearth ssh ada/dev
  hearth sharing share dev --group platform:admin`}
	shareFormat := outputFlag(share)
	accessFlags(share, &users, &groups, &removeUsers, &removeGroups)
	share.RunE = func(cmd *cobra.Command, args []string) error {
		change, err := accessChange(users, groups, removeUsers, removeGroups)
		if err != nil {
			return err
		}
		c, s, w, err := workspaceSession(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		res, err := client.Ok(c.UpdateWorkspaceAclWithResponse(cmd.Context(), w.Id, change))
		if err != nil {
			return remote(s.URL, err)
		}
		return printAccess(cmd, *shareFormat, res.JSON200)
	}
	var ru, rg []string
	remove := &cobra.Command{Use: "remove [OWNER/]WORKSPACE", Short: "Stop sharing a workspace with users or groups: their open connections close within seconds",
		Args: cobra.ExactArgs(1), Example: "  hearth sharing remove dev --user bob"}
	removeFormat := outputFlag(remove)
	remove.Flags().StringSliceVar(&ru, "user", nil, "a user to take away (repeatable)")
	remove.Flags().StringSliceVar(&rg, "group", nil, "a group to take away (repeatable)")
	remove.RunE = func(cmd *cobra.Command, args []string) error {
		if len(ru)+len(rg) == 0 {
			return usageError{fmt.Errorf("name whom to stop sharing with: --user NAME or --group NAME")}
		}
		change, _ := accessChange(nil, nil, ru, rg)
		c, s, w, err := workspaceSession(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		res, err := client.Ok(c.UpdateWorkspaceAclWithResponse(cmd.Context(), w.Id, change))
		if err != nil {
			return remote(s.URL, err)
		}
		return printAccess(cmd, *removeFormat, res.JSON200)
	}
	status := &cobra.Command{Use: "status [OWNER/]WORKSPACE", Short: "Show whom a workspace is shared with", Args: cobra.ExactArgs(1)}
	statusFormat := outputFlag(status)
	status.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, w, err := workspaceSession(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		res, err := client.Ok(c.GetWorkspaceAclWithResponse(cmd.Context(), w.Id))
		if err != nil {
			return remote(s.URL, err)
		}
		return printAccess(cmd, *statusFormat, res.JSON200)
	}
	cmd.AddCommand(share, remove, status)
	return cmd
}

func templatesAccessCommand() *cobra.Command {
	var users, groups, removeUsers, removeGroups []string
	cmd := &cobra.Command{Use: "access TEMPLATE", Short: "Show or change who may use (or administer) a template",
		Long: `Show a template's access list, or change it with --user, --group, --remove-user and
--remove-group. use lets people see the template and create workspaces from it; admin also lets
them change it (push versions, settings, this list). Template admins (the role) have admin on every
template. New templates are granted to the everyone group for use.`,
		Args: cobra.ExactArgs(1),
		Example: `  hearth templates access docker --remove-group everyone --group platform --user ada:admin
  hearth templates access docker`}
	format := outputFlag(cmd)
	accessFlags(cmd, &users, &groups, &removeUsers, &removeGroups)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		if len(users)+len(groups)+len(removeUsers)+len(removeGroups) == 0 {
			res, err := client.Ok(c.GetTemplateAclWithResponse(cmd.Context(), args[0]))
			if err != nil {
				return remote(s.URL, err)
			}
			return printAccess(cmd, *format, res.JSON200)
		}
		change, err := accessChange(users, groups, removeUsers, removeGroups)
		if err != nil {
			return err
		}
		res, err := client.Ok(c.UpdateTemplateAclWithResponse(cmd.Context(), args[0], change))
		if err != nil {
			return remote(s.URL, err)
		}
		return printAccess(cmd, *format, res.JSON200)
	}
	return cmd
}

func quotaCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "quota [USER]", Short: "Show a daily credit allowance and what running workspaces use of it",
		Long: `A workspace costs, each day it runs, the daily_cost of its resources' coder_metadata; a user's
allowance is the sum of their groups' (hearth groups edit GROUP --quota N). A start that would go
past it is refused before Terraform runs.`,
		Example: "  hearth quota\n  hearth quota bob   # user admins and auditors", Args: cobra.MaximumNArgs(1)}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		user := "me"
		if len(args) == 1 {
			user = args[0]
		}
		res, err := client.Ok(c.GetUserQuotaWithResponse(cmd.Context(), user))
		if err != nil {
			return remote(s.URL, err)
		}
		q := res.JSON200
		return render(cmd, *format, q, func(w io.Writer, _ bool) {
			fmt.Fprintf(w, "%d of %d credits a day in use\n", q.Used, q.Allowance)
		})
	}
	return cmd
}
