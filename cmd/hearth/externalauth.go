package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
)

func externalAuthCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "external-auth", Short: "Link your accounts at Git hosts and other external auth providers, for templates and workspaces"}

	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List the deployment's providers and whether you linked them", Args: cobra.NoArgs}
	format := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListExternalAuthWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		providers := res.JSON200.Providers
		return render(cmd, *format, providers, func(w io.Writer, wide bool) {
			fmt.Fprint(w, "ID\tTYPE\tNAME\tLINKED")
			if wide {
				fmt.Fprint(w, "\tEXPIRES\tDEVICE FLOW\tLINK URL")
			}
			fmt.Fprintln(w)
			for _, p := range providers {
				linked := "no"
				if p.Linked {
					linked = "yes, " + ago(p.LinkedAt)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s", p.Id, p.Type, p.DisplayName, linked)
				if wide {
					exp := "-"
					if p.ExpiresAt != nil {
						exp = p.ExpiresAt.Local().Format(time.DateTime)
					}
					fmt.Fprintf(w, "\t%s\t%t\t%s", exp, p.DeviceFlow, p.LinkUrl)
				}
				fmt.Fprintln(w)
			}
		})
	}

	var wait time.Duration
	var noBrowser bool
	link := &cobra.Command{Use: "link PROVIDER", Short: "Link an account: with a device code where the provider allows, else in the browser", Args: cobra.ExactArgs(1),
		Long: `Link your account at an external auth provider.

With the device flow (providers set up with device_flow), this prints a code to enter on the
provider's page and waits for you to approve it. Otherwise it opens the dashboard's page for the
provider in your browser (or prints its address) and waits until the link is made there.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			res, err := client.Ok(c.GetExternalAuthWithResponse(cmd.Context(), args[0]))
			if err != nil {
				return remote(s.URL, err)
			}
			p := res.JSON200
			out := cmd.OutOrStdout()
			deadline := time.Now().Add(wait)
			if p.DeviceFlow {
				dc, err := client.Ok(c.StartExternalAuthDeviceWithResponse(cmd.Context(), p.Id))
				if err != nil {
					return remote(s.URL, err)
				}
				d := dc.JSON200
				fmt.Fprintf(out, "Open %s and enter the code %s to link your %s account.\nWaiting for you to approve it (up to %s)…\n",
					d.VerificationUri, d.UserCode, p.DisplayName, wait)
				interval := time.Duration(max(d.Interval, 1)) * time.Second
				for time.Now().Before(deadline) {
					if !sleepCtx(cmd, interval) {
						return cmd.Context().Err()
					}
					r, err := c.FinishExternalAuthDeviceWithResponse(cmd.Context(), p.Id, client.FinishExternalAuthDeviceJSONRequestBody{DeviceCode: d.DeviceCode})
					if err == nil && r.StatusCode() == http.StatusAccepted {
						continue
					}
					if _, err := client.Ok(r, err); err != nil {
						return remote(s.URL, err)
					}
					fmt.Fprintf(out, "Linked your %s account.\n", p.DisplayName)
					return nil
				}
				return fmt.Errorf("the code was not approved within %s; run hearth external-auth link %s again", wait, p.Id)
			}
			if p.Linked {
				fmt.Fprintf(out, "Your %s account is already linked (%s). To link another, unlink it first: hearth external-auth unlink %s\n",
					p.DisplayName, ago(p.LinkedAt), p.Id)
				return nil
			}
			fmt.Fprintf(out, "Open %s in your browser (signed in to Hearth) and choose Link.\nWaiting for the link (up to %s)…\n", p.LinkUrl, wait)
			if !noBrowser {
				browse(p.LinkUrl)
			}
			for time.Now().Before(deadline) {
				if !sleepCtx(cmd, time.Second) {
					return cmd.Context().Err()
				}
				r, err := client.Ok(c.GetExternalAuthWithResponse(cmd.Context(), p.Id))
				if err != nil {
					return remote(s.URL, err)
				}
				if r.JSON200.Linked {
					fmt.Fprintf(out, "Linked your %s account.\n", p.DisplayName)
					return nil
				}
			}
			return fmt.Errorf("no link was made within %s; open %s to link it", wait, p.LinkUrl)
		}}
	link.Flags().DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the link to be made")
	link.Flags().BoolVar(&noBrowser, "no-browser", os.Getenv("BROWSER") == "none", "only print the address, do not open a browser")

	unlink := &cobra.Command{Use: "unlink PROVIDER", Short: "Unlink an account and revoke its tokens at the provider", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			res, err := client.Ok(c.UnlinkExternalAuthWithResponse(cmd.Context(), args[0]))
			if err != nil {
				return remote(s.URL, err)
			}
			out := cmd.OutOrStdout()
			switch {
			case res.JSON200.Warning != nil:
				fmt.Fprintf(out, "Unlinked %s. %s\n", args[0], *res.JSON200.Warning)
			case res.JSON200.Revoked:
				fmt.Fprintf(out, "Unlinked %s; its tokens are revoked.\n", args[0])
			default:
				fmt.Fprintf(out, "Unlinked %s (the provider offers no revocation: revoke the app's access in your account there too).\n", args[0])
			}
			return nil
		}}
	cmd.AddCommand(list, link, unlink)
	return cmd
}

// sleepCtx waits d unless the command is interrupted.
func sleepCtx(cmd *cobra.Command, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-cmd.Context().Done():
		return false
	case <-t.C:
		return true
	}
}
