package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/cliconfig"
)

func loginCommand() *cobra.Command {
	var username, password, token, name string
	var first struct{ username, email, name, password string }
	cmd := &cobra.Command{
		Use:   "login URL",
		Short: "Sign in to a Hearth deployment (and set it up, on first run)",
		Long: `Sign in to the deployment at URL and remember the session for later commands.

On a new deployment, the --first-user-* flags create its owner first and sign in as them. With
--token, an existing API token is checked and remembered instead of signing in with a password.
Without --password, the password is asked for on the terminal (or read from HEARTH_PASSWORD).`,
		Example: `  hearth login http://127.0.0.1:3000 --first-user-username ada --first-user-email ada@example.com
  hearth login https://hearth.example.com --username ada`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := deploymentURL(args[0])
			if err != nil {
				return usageError{err}
			}
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			if name == "" {
				name = cliconfig.DefaultName(base)
			}
			if token != "" {
				return remember(ctx, out, name, base, token)
			}
			c, err := client.Dial(base, "", "cli")
			if err != nil {
				return err
			}
			if first.username != "" || first.email != "" {
				if first.username == "" || first.email == "" {
					return usageError{errors.New("--first-user-username and --first-user-email go together")}
				}
				if first.password == "" {
					if first.password, err = prompt(cmd, "Password for "+first.username+" (at least 8 characters): ", true); err != nil {
						return err
					}
				}
				res, err := c.CreateFirstUserWithResponse(ctx, client.CreateFirstUserJSONRequestBody{
					Username: first.username, Email: openapi_types.Email(first.email), Name: &first.name, Password: first.password})
				if err != nil {
					return fmt.Errorf("reach %s: %w", base, err)
				}
				if res.StatusCode() == http.StatusConflict {
					return errors.New("this deployment is already set up; sign in with --username instead")
				}
				if err := client.Check(res.HTTPResponse, res.Body); err != nil {
					return err
				}
				fmt.Fprintf(out, "Created %s, the owner of %s.\n", first.username, base)
				username, password = first.username, first.password
			}
			if username == "" {
				if username, err = prompt(cmd, "Username or email: ", false); err != nil {
					return err
				}
			}
			if password == "" {
				if password, err = prompt(cmd, "Password: ", true); err != nil {
					return err
				}
			}
			res, err := c.LoginWithResponse(ctx, client.LoginJSONRequestBody{Login: username, Password: password})
			if err != nil {
				return fmt.Errorf("reach %s: %w", base, err)
			}
			if err := client.Check(res.HTTPResponse, res.Body); err != nil {
				return err
			}
			return remember(ctx, out, name, base, res.JSON200.SessionToken)
		},
	}
	f := cmd.Flags()
	f.StringVar(&username, "username", "", "username or email to sign in as")
	f.StringVar(&password, "password", "", "password; prefer the prompt or HEARTH_PASSWORD, since flags show in the process list")
	f.StringVar(&token, "token", "", "use this API token instead of signing in")
	f.StringVar(&name, "name", "", "remember the deployment under this name (default: its host:port); hearth deployments switches between them")
	f.StringVar(&first.username, "first-user-username", "", "on a new deployment: the owner's username")
	f.StringVar(&first.email, "first-user-email", "", "on a new deployment: the owner's email")
	f.StringVar(&first.name, "first-user-name", "", "on a new deployment: the owner's full name")
	f.StringVar(&first.password, "first-user-password", "", "on a new deployment: the owner's password (asked for when missing)")
	bindConfig(cmd)
	return cmd
}

// deploymentURL checks a deployment URL from the command line, adding http:// to a bare host:port.
func deploymentURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not a deployment URL; want http(s)://host[:port]", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// remember checks a token against the deployment and saves it as the named deployment, now current.
func remember(ctx context.Context, out io.Writer, name, base, token string) error {
	c, err := client.Dial(base, token, "cli")
	if err != nil {
		return err
	}
	res, err := c.GetCurrentUserWithResponse(ctx)
	if err != nil {
		return fmt.Errorf("reach %s: %w", base, err)
	}
	if err := client.Check(res.HTTPResponse, res.Body); err != nil {
		return err
	}
	if err := cliconfig.Save(cliconfig.Session{Name: name, URL: base, Token: token}); err != nil {
		return err
	}
	fmt.Fprintf(out, "Signed in to %s as %s (deployment %q).\n", base, res.JSON200.Username, name)
	return nil
}

// prompt asks on the terminal; without one (a pipe, CI) it reads a line from standard input.
func prompt(cmd *cobra.Command, question string, secret bool) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), question)
		if secret {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			return string(b), err
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{fmt.Errorf("%s nothing given (no terminal to ask on)", strings.TrimSuffix(question, ": "))}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return line, nil
}

// session returns a client for the signed-in deployment.
func session() (*client.ClientWithResponses, cliconfig.Session, error) {
	s, err := cliconfig.Load()
	if err != nil {
		return nil, s, err
	}
	c, err := client.Dial(s.URL, s.Token, "cli")
	return c, s, err
}

func logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Sign out: revoke this session and forget it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			res, err := c.LogoutWithResponse(cmd.Context())
			if err != nil {
				return fmt.Errorf("reach %s: %w", s.URL, err)
			}
			// A session that is already invalid is as good as revoked.
			if res.StatusCode() != http.StatusUnauthorized {
				if err := client.Check(res.HTTPResponse, res.Body); err != nil {
					return err
				}
			}
			if s.Name != "" {
				if err := cliconfig.Remove(s.Name); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Signed out of %s.\n", s.URL)
			return nil
		},
	}
}

func whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who you are signed in as, and where",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			res, err := c.GetCurrentUserWithResponse(cmd.Context())
			if err != nil {
				return fmt.Errorf("reach %s: %w", s.URL, err)
			}
			if err := client.Check(res.HTTPResponse, res.Body); err != nil {
				return err
			}
			u := res.JSON200
			roles := "member"
			if len(u.Roles) > 0 {
				roles = strings.Join(u.Roles, ", ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s <%s> on %s (%s)\n", u.Username, u.Email, s.URL, roles)
			return nil
		},
	}
}

func tokensCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "Create, list and revoke your API tokens"}
	var lifetime time.Duration
	var scopes []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token and print it (it is shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if lifetime > 0 && lifetime < time.Minute {
				return usageError{fmt.Errorf("--lifetime %s: a token lives at least 1m", lifetime)}
			}
			c, s, err := session()
			if err != nil {
				return err
			}
			body := client.CreateTokenJSONRequestBody{Name: args[0]}
			if lifetime > 0 {
				secs := int64(lifetime.Seconds())
				body.LifetimeSeconds = &secs
			}
			if len(scopes) > 0 {
				sc := make([]client.CreateTokenInputBodyScopes, len(scopes))
				for i, v := range scopes {
					sc[i] = client.CreateTokenInputBodyScopes(v)
				}
				body.Scopes = &sc
			}
			res, err := c.CreateTokenWithResponse(cmd.Context(), "me", body)
			if err != nil {
				return fmt.Errorf("reach %s: %w", s.URL, err)
			}
			if err := client.Check(res.HTTPResponse, res.Body); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.JSON201.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %s (%s) expires %s. Store it now: it cannot be shown again.\n",
				res.JSON201.Name, res.JSON201.Id, res.JSON201.ExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	create.Flags().DurationVar(&lifetime, "lifetime", 0, "how long the token lives (default 720h, at most 8760h)")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "what it may do: all (default), user:read, workspace:read, workspace:write, template:read, template:write, audit:read")
	list := &cobra.Command{
		Use:   "list",
		Short: "List your API tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			res, err := c.ListTokensWithResponse(cmd.Context(), "me")
			if err != nil {
				return fmt.Errorf("reach %s: %w", s.URL, err)
			}
			if err := client.Check(res.HTTPResponse, res.Body); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSCOPES\tEXPIRES\tLAST USED")
			for _, t := range res.JSON200.Tokens {
				used := "never"
				if t.LastUsedAt != nil {
					used = t.LastUsedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Id, t.Name, strings.Join(t.Scopes, ","), t.ExpiresAt.Format(time.RFC3339), used)
			}
			return w.Flush()
		},
	}
	remove := &cobra.Command{
		Use:     "revoke ID",
		Aliases: []string{"remove"},
		Short:   "Revoke an API token",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			res, err := c.DeleteTokenWithResponse(cmd.Context(), "me", args[0])
			if err != nil {
				return fmt.Errorf("reach %s: %w", s.URL, err)
			}
			if err := client.Check(res.HTTPResponse, res.Body); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked token %s.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, remove)
	return cmd
}

func publickeyCommand() *cobra.Command {
	var reset, yes bool
	cmd := &cobra.Command{
		Use:   "publickey",
		Short: "Show your Git SSH public key (templates get the pair as data.coder_workspace_owner)",
		Long: `Print the public half of your Git SSH key pair, to add to your Git host as an SSH key. Templates
get the pair as data.coder_workspace_owner's ssh_public_key and ssh_private_key. --reset makes a new
pair; workspaces get it at their next start.`,
		Example: `  hearth publickey
  hearth publickey --reset --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, s, err := session()
			if err != nil {
				return err
			}
			var key string
			if reset {
				if err := confirm(cmd, yes, "Replace your Git SSH key pair? The old key stops working where it was added once removed there"); err != nil {
					return err
				}
				res, err := client.Ok(c.ResetGitSshKeyWithResponse(cmd.Context(), "me"))
				if err != nil {
					return remote(s.URL, err)
				}
				key = res.JSON200.PublicKey
				fmt.Fprintln(cmd.ErrOrStderr(), "A new key pair; add the public key below to your Git host, and restart workspaces to give them the pair.")
			} else {
				res, err := client.Ok(c.GetGitSshKeyWithResponse(cmd.Context(), "me"))
				if err != nil {
					return remote(s.URL, err)
				}
				key = res.JSON200.PublicKey
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "replace the key pair with a new one")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
