package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/dockerhost"
)

func doctorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "doctor", Short: "Find what workspaces left behind (admins)"}
	var host string
	var remove, yes bool
	format := new(string)
	docker := &cobra.Command{
		Use:   "docker",
		Short: "List the containers and volumes on a Docker host whose workspace is gone or stopped",
		Long: `List the containers and volumes on a Docker host that carry a workspace's label
(coder.workspace_id, as Coder's templates and Hearth's examples set it) but whose workspace is
deleted, unknown to this deployment, or — for containers — stopped. Run it where the Docker engine
is reachable; --remove deletes what it lists (asking first, unless --yes).`,
		Example: `  hearth doctor docker
  hearth doctor docker --docker-host unix:///var/run/docker.sock --remove --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			engine, err := dockerhost.Open(host)
			if err != nil {
				return usageError{err}
			}
			found, err := engine.Labelled(cmd.Context())
			if err != nil {
				return err
			}
			type orphan struct {
				dockerhost.Resource
				Reason string `json:"reason"`
			}
			orphans := []orphan{}
			status := map[string]string{} // workspace id -> its status, or "" when unknown
			for _, r := range found {
				st, seen := status[r.WorkspaceID]
				if !seen {
					res, err := c.GetWorkspaceWithResponse(cmd.Context(), r.WorkspaceID)
					switch {
					case err != nil:
						return remote(s.URL, err)
					case res.StatusCode() == http.StatusNotFound, res.StatusCode() == http.StatusUnprocessableEntity:
						st = ""
					case res.JSON200 != nil:
						st = string(res.JSON200.Status)
					default:
						return remote(s.URL, client.Check(res.HTTPResponse, res.Body))
					}
					status[r.WorkspaceID] = st
				}
				switch {
				case st == "":
					orphans = append(orphans, orphan{r, "no such workspace in this deployment"})
				case st == string(client.WorkspaceStatusDeleted):
					orphans = append(orphans, orphan{r, "its workspace is deleted"})
				case r.Kind == "container" && st == string(client.WorkspaceStatusStopped):
					orphans = append(orphans, orphan{r, "its workspace is stopped"})
				}
			}
			sort.Slice(orphans, func(i, j int) bool {
				return orphans[i].Kind+orphans[i].Name < orphans[j].Kind+orphans[j].Name
			})
			if err := render(cmd, *format, orphans, func(w io.Writer, _ bool) {
				if len(orphans) == 0 {
					fmt.Fprintf(w, "Nothing left behind: the %d labelled container(s) and volume(s) on %s belong to workspaces that have them.\n", len(found), host)
					return
				}
				fmt.Fprintln(w, "KIND\tNAME\tWORKSPACE\tWHY")
				for _, o := range orphans {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.Kind, o.Name, o.WorkspaceID, o.Reason)
				}
			}); err != nil {
				return err
			}
			if !remove || len(orphans) == 0 {
				return nil
			}
			if err := confirm(cmd, yes, fmt.Sprintf("Remove these %d from %s?", len(orphans), host)); err != nil {
				return err
			}
			for _, o := range orphans {
				if err := engine.Remove(cmd.Context(), o.Resource); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Removed %s %s.\n", o.Kind, o.Name)
			}
			return nil
		},
	}
	f := docker.Flags()
	f.StringVar(&host, "docker-host", dockerhost.DefaultHost(), "the Docker engine (unix:///path or tcp://host:port; default DOCKER_HOST)")
	f.BoolVar(&remove, "remove", false, "remove what is listed")
	f.BoolVarP(&yes, "yes", "y", false, "with --remove: do not ask")
	f.StringVarP(format, "output", "o", formatTable, "output format: table, json or yaml")
	cmd.AddCommand(docker)
	return cmd
}
