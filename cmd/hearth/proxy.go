package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/proxy"
)

func proxyCommand() *cobra.Command {
	var (
		cfg                proxy.Config
		address, tokenFile string
		logs               *logFlags
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run a workspace proxy: a regional relay for agents' tunnels and connections to them",
		Long: `Run a workspace proxy until interrupted. Agents near it connect to it instead of to the server
(point their URL at it: HEARTH_AGENT_URL, or the local template's agent_url variable); users' SSH and
port-forward connections to those agents then go through it, not through the server, and the
dashboard and apps reach them through it from the server. It also serves DERP (and STUN), so
WireGuard connections near it that find no direct path are relayed by it rather than by the
server: it is one more region of the deployment's DERP map while it runs.

The proxy has no database: register it first (hearth proxies create NAME, as an owner) and start it
with the token that prints (--token-file, or HEARTH_PROXY_TOKEN).`,
		Example: `  HEARTH_PROXY_TOKEN=hrt_... hearth proxy --primary-url https://hearth.example.com \
    --http-address 0.0.0.0:3001 --access-url https://eu.hearth.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			if cfg.PrimaryURL == "" {
				return usageError{errors.New("--primary-url (the server's access URL) is required")}
			}
			if cfg.PrimaryURL, err = deploymentURL(cfg.PrimaryURL); err != nil {
				return usageError{err}
			}
			if cfg.Token, err = secretFrom(tokenFile, cfg.Token); err != nil {
				return err
			}
			if cfg.Token == "" {
				return usageError{errors.New("the proxy's token is required: --token-file or HEARTH_PROXY_TOKEN (hearth proxies create NAME prints it)")}
			}
			l, err := (&net.ListenConfig{}).Listen(cmd.Context(), "tcp", address)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", address, err)
			}
			cfg.Listener = l
			if cfg.AccessURL == "" {
				cfg.AccessURL = "http://" + l.Addr().String()
			}
			if cfg.AccessURL, err = deploymentURL(cfg.AccessURL); err != nil {
				return usageError{fmt.Errorf("--access-url: %w", err)}
			}
			if cfg.STUNAddress == "auto" {
				host, _, _ := net.SplitHostPort(address)
				cfg.STUNAddress = net.JoinHostPort(host, "3478")
			}
			cfg.Ready = func(name string) {
				fmt.Fprintf(cmd.OutOrStdout(), "Workspace proxy %s is serving at %s\n", name, cfg.AccessURL)
			}
			return proxy.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.PrimaryURL, "primary-url", "", "the Hearth server's access URL")
	f.StringVar(&tokenFile, "token-file", "", "file holding the proxy's token (the first line)")
	f.StringVar(&cfg.Token, "proxy-token", "", "the proxy's token; prefer HEARTH_PROXY_TOKEN or --token-file, since flags show in the process list")
	f.StringVar(&address, "http-address", "127.0.0.1:3001", "address to listen on")
	f.StringVar(&cfg.AccessURL, "access-url", "", "where users, agents and the server reach this proxy (default http://HTTP-ADDRESS)")
	f.BoolVar(&cfg.DERP, "derp", true, "serve DERP at /derp, which makes the proxy a region of the deployment's DERP map")
	f.StringVar(&cfg.STUNAddress, "stun-address", "auto", "the UDP address of the proxy's STUN server (auto: the host of --http-address, port 3478); empty runs none")
	logs = addLogFlags(f)
	bindConfig(cmd)
	return cmd
}

func proxiesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "proxies", Short: "Register and see workspace proxies"}
	create := &cobra.Command{Use: "create NAME", Short: "Register a workspace proxy and print its token (owners)", Args: cobra.ExactArgs(1),
		Example: "  hearth proxies create eu-west > eu-west.token"}
	createFormat := outputFlag(create)
	create.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.CreateWorkspaceProxyWithResponse(cmd.Context(), client.CreateWorkspaceProxyJSONRequestBody{Name: args[0]}))
		if err != nil {
			return remote(s.URL, err)
		}
		out := res.JSON201
		return render(cmd, *createFormat, out, func(w io.Writer, _ bool) {
			fmt.Fprintln(w, out.Token)
			fmt.Fprintf(os.Stderr, "Workspace proxy %s registered. Its token (above) is shown only now: start it with\n"+
				"  HEARTH_PROXY_TOKEN=... hearth proxy --primary-url %s --access-url URL\n", out.Proxy.Name, s.URL)
		})
	}
	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List workspace proxies", Args: cobra.NoArgs}
	listFormat := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListWorkspaceProxiesWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		proxies := res.JSON200.Proxies
		return render(cmd, *listFormat, proxies, func(w io.Writer, _ bool) {
			if len(proxies) == 0 {
				fmt.Fprintln(w, "No workspace proxies: register one with hearth proxies create NAME")
				return
			}
			fmt.Fprintln(w, "NAME\tURL\tHEALTHY\tINSTANCES\tDERP REGION\tLAST SEEN\tVERSION")
			for _, p := range proxies {
				region := "-"
				if p.Derp {
					region = strconv.FormatInt(p.DerpRegionId, 10)
				}
				fmt.Fprintf(w, "%s\t%s\t%v\t%d\t%s\t%s\t%s\n", p.Name, orDash(p.Url), p.Healthy, p.Instances, region, ago(p.LastSeenAt), p.Version)
			}
		})
	}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a workspace proxy; its token stops working (owners)", Args: cobra.ExactArgs(1)}
	del.RunE = func(cmd *cobra.Command, args []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		if _, err := client.Ok(c.DeleteWorkspaceProxyWithResponse(cmd.Context(), args[0])); err != nil {
			return remote(s.URL, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Deleted workspace proxy %s\n", args[0])
		return nil
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
