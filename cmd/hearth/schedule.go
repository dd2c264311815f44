package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
)

func scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Short: "See and change when a workspace starts and stops by itself"}

	show := &cobra.Command{Use: "show WORKSPACE", Short: "Show a workspace's autostop: its TTL and, while running, its deadline", Args: cobra.ExactArgs(1)}
	format := outputFlag(show)
	show.RunE = func(cmd *cobra.Command, args []string) error {
		_, _, w, err := workspaceSession(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		type schedule struct {
			Autostart     string     `json:"autostart_schedule"`
			NextAutostart *time.Time `json:"next_autostart_at,omitempty"`
			TTLSeconds    int64      `json:"ttl_seconds"`
			FromTemplate  bool       `json:"ttl_from_template"`
			Deadline      *time.Time `json:"deadline,omitempty"`
			MaxDeadline   *time.Time `json:"max_deadline,omitempty"`
			DormantAt     *time.Time `json:"dormant_at,omitempty"`
			DeletingAt    *time.Time `json:"deleting_at,omitempty"`
		}
		sc := schedule{Autostart: w.AutostartSchedule, NextAutostart: w.NextAutostartAt, TTLSeconds: w.TemplateDefaultTtlSeconds,
			FromTemplate: w.TtlSeconds == nil, Deadline: w.Deadline, MaxDeadline: w.MaxDeadline, DormantAt: w.DormantAt, DeletingAt: w.DeletingAt}
		if w.TtlSeconds != nil {
			sc.TTLSeconds = *w.TtlSeconds
		}
		return render(cmd, *format, sc, func(out io.Writer, _ bool) {
			ttl := "never stops by itself"
			if sc.TTLSeconds > 0 {
				ttl = "stops " + (time.Duration(sc.TTLSeconds) * time.Second).String() + " after each start"
			}
			if sc.FromTemplate {
				ttl += " (the template's default)"
			}
			if sc.Autostart == "" {
				fmt.Fprintln(out, "Autostart:\toff")
			} else {
				next := ""
				if sc.NextAutostart != nil {
					next = ", next at " + sc.NextAutostart.Local().Format(time.RFC3339)
				}
				fmt.Fprintf(out, "Autostart:\t%s%s\n", sc.Autostart, next)
			}
			fmt.Fprintf(out, "Autostop:\t%s\n", ttl)
			switch {
			case sc.DormantAt != nil:
				fmt.Fprintf(out, "Now:\tdormant since %s (hearth schedule wake %s makes it active)\n", sc.DormantAt.Local().Format(time.RFC3339), w.Name)
				if sc.DeletingAt != nil {
					fmt.Fprintf(out, "Deleted:\tat %s unless made active\n", sc.DeletingAt.Local().Format(time.RFC3339))
				}
			case w.Status != "running":
				fmt.Fprintf(out, "Now:\t%s\n", w.Status)
			case sc.Deadline != nil:
				fmt.Fprintf(out, "Stops:\tin %s (%s)\n", time.Until(*sc.Deadline).Round(time.Second), sc.Deadline.Local().Format(time.RFC3339))
			default:
				fmt.Fprintln(out, "Stops:\tnot by itself")
			}
			if sc.MaxDeadline != nil && w.Status == "running" {
				fmt.Fprintf(out, "At the latest:\t%s\n", sc.MaxDeadline.Local().Format(time.RFC3339))
			}
		})
	}

	stop := &cobra.Command{
		Use:   "stop WORKSPACE DURATION|off|default",
		Short: "Set how long a workspace runs after each start (8h, 90m, 10s; off: until stopped; default: the template's)",
		Long:  "Applies from the next start. Activity (SSH, the terminal, port forwarding, apps) keeps pushing the deadline to this long after the last use, never past the template's maximum.",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body client.UpdateWorkspaceTtlJSONRequestBody
			switch args[1] {
			case "default":
			case "off":
				body.TtlSeconds = new(int64)
			default:
				d, err := time.ParseDuration(args[1])
				if err != nil || d < time.Second {
					return usageError{fmt.Errorf("%q is not a duration of a second or more, such as 8h, 90m or 10s (or off, or default)", args[1])}
				}
				secs := int64(d.Seconds())
				body.TtlSeconds = &secs
			}
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if _, err := client.Ok(c.UpdateWorkspaceTtlWithResponse(cmd.Context(), w.Id, body)); err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Autostop of %s set to %s, from its next start.\n", w.Name, args[1])
			return nil
		},
	}

	extend := &cobra.Command{
		Use:   "extend WORKSPACE DURATION",
		Short: "Keep a running workspace up for DURATION from now (at most the template's maximum)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := time.ParseDuration(args[1])
			if err != nil || d < time.Second {
				return usageError{fmt.Errorf("%q is not a duration of a second or more, such as 2h or 30m", args[1])}
			}
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			res, err := client.Ok(c.ExtendWorkspaceWithResponse(cmd.Context(), w.Id, client.ExtendWorkspaceJSONRequestBody{DurationSeconds: int64(d.Seconds())}))
			if err != nil {
				return remote(s.URL, err)
			}
			if d := res.JSON200.Deadline; d != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s now stops at %s.\n", w.Name, d.Local().Format(time.RFC3339))
			}
			return nil
		},
	}
	start := &cobra.Command{
		Use:   "start WORKSPACE CRON|off",
		Short: "Start a stopped workspace on a cron schedule (\"CRON_TZ=Europe/Berlin 30 8 * * 1-5\"; off: never)",
		Long: "Minute, hour, day of month, month, day of week; a CRON_TZ=Zone prefix sets the time zone (UTC otherwise). " +
			"Quote the schedule. At each time, a stopped workspace starts; a running, failed or busy one is left alone.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := args[1]
			if spec == "off" {
				spec = ""
			}
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			res, err := client.Ok(c.UpdateWorkspaceAutostartWithResponse(cmd.Context(), w.Id, client.UpdateWorkspaceAutostartJSONRequestBody{Schedule: spec}))
			if err != nil {
				return remote(s.URL, err)
			}
			if next := res.JSON200.NextAutostartAt; next != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s starts on %q; next at %s.\n", w.Name, spec, next.Local().Format(time.RFC3339))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Autostart of %s is off.\n", w.Name)
			}
			return nil
		},
	}
	wake := &cobra.Command{
		Use:   "wake WORKSPACE",
		Short: "Make a dormant workspace active again, so it can start (and is not deleted)",
		Long:  "A workspace unused for longer than its template allows becomes dormant: stopped, unable to start, and deleted after the template's time to deletion. This makes it active; start it with hearth start.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, w, err := workspaceSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if w.DormantAt == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is not dormant.\n", w.Name)
				return nil
			}
			if _, err := client.Ok(c.UpdateWorkspaceDormancyWithResponse(cmd.Context(), w.Id, client.UpdateWorkspaceDormancyJSONRequestBody{Dormant: false})); err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is active again; start it with: hearth start %s\n", w.Name, w.Name)
			return nil
		},
	}
	cmd.AddCommand(show, start, stop, extend, wake)
	return cmd
}
