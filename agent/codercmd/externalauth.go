package codercmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// token is what the agent's local socket answers for an external auth request.
type token struct {
	ProviderID  string `json:"provider_id"`
	AccessToken string `json:"access_token"`
	Username    string `json:"username"`
	Password    string `json:"password"`
}

// ask asks the agent for the owner's token of a provider, by id or by Git URL.
func ask(query url.Values) (token, error) {
	var t token
	err := fromAgent("/external-auth?"+query.Encode(), &t)
	return t, err
}

// fromAgent reads path from the agent's local socket (HEARTH_AGENT_SOCKET) into v; an answer other
// than 200 is an error with the agent's message.
func fromAgent(path string, v any) error {
	sock := os.Getenv("HEARTH_AGENT_SOCKET")
	if sock == "" {
		return errors.New("not inside a Hearth workspace session (HEARTH_AGENT_SOCKET is not set)")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	res, err := hc.Get("http://agent" + path) //nolint:noctx // a short-lived command
	if err != nil {
		return fmt.Errorf("the workspace's agent does not answer at %s: %w", sock, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("the agent's answer broke off (%s)", res.Status)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) != nil || e.Message == "" {
			return fmt.Errorf("the agent answered %s", res.Status)
		}
		return errors.New(e.Message)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("the agent's answer is not readable (%s)", res.Status)
	}
	return nil
}

// externalAuth is `coder external-auth access-token ID`: prints the owner's fresh token.
func externalAuth(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "access-token" {
		fmt.Fprintln(stderr, "Usage: coder external-auth access-token PROVIDER_ID")
		return 2
	}
	fs := flag.NewFlagSet("coder external-auth access-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "Usage: coder external-auth access-token PROVIDER_ID")
		return 2
	}
	t, err := ask(url.Values{"id": {fs.Arg(0)}})
	if err != nil {
		fmt.Fprintln(stderr, "coder external-auth:", err)
		return 1
	}
	fmt.Fprintln(stdout, t.AccessToken)
	return 0
}

// gitCredential is a Git credential helper (`git-credential get`): it reads the request's
// attributes and answers the username and token of the provider serving that URL. It stays silent
// for URLs none serves, so Git asks its other helpers; store and erase are ignored (the agent
// keeps nothing).
func gitCredential(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "get" {
		return 0
	}
	attrs := map[string]string{}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			attrs[k] = v
		}
	}
	u := attrs["url"]
	if u == "" {
		u = (&url.URL{Scheme: attrs["protocol"], Host: attrs["host"], Path: "/" + strings.TrimPrefix(attrs["path"], "/")}).String()
	}
	t, err := ask(url.Values{"url": {u}})
	if err != nil {
		fmt.Fprintln(stderr, "coder git-credential:", err)
		return 0 // Git goes on to its other helpers and prompts
	}
	fmt.Fprintf(stdout, "username=%s\npassword=%s\n", t.Username, t.Password)
	return 0
}

// askpass answers Git's GIT_ASKPASS prompts ("Username for 'https://host': ", "Password for
// 'https://user@host': ") with the credentials of the provider serving that host.
func askpass(prompt string, stdout, stderr io.Writer) int {
	_, rest, _ := strings.Cut(prompt, "'")
	target, _, _ := strings.Cut(rest, "'")
	if u, err := url.Parse(target); err == nil {
		u.User = nil
		if u.Path == "" {
			u.Path = "/" // as the credential helper asks: a provider's regex may want the host's root
		}
		target = u.String()
	}
	t, err := ask(url.Values{"url": {target}})
	if err != nil {
		fmt.Fprintln(stderr, "coder:", err)
		return 1
	}
	if strings.HasPrefix(prompt, "Username") {
		fmt.Fprintln(stdout, t.Username)
	} else {
		fmt.Fprintln(stdout, t.Password)
	}
	return 0
}
