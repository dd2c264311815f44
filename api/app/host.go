package app

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// CheckHost checks a wildcard apps host: empty, or *.DOMAIN with no port.
func CheckHost(h string) error {
	if h == "" {
		return nil
	}
	rest, ok := strings.CutPrefix(h, "*.")
	if !ok || rest == "" || strings.ContainsAny(rest, "*/:") {
		return fmt.Errorf("the wildcard access URL %q must look like *.apps.example.com (no scheme or port)", h)
	}
	return nil
}

// parseHost parses a subdomain app's host, SLUG--AGENT--WORKSPACE--OWNER.APPS_HOST (the agent may be
// left out when the workspace has one).
func (p *Proxy) parseHost(host string) (ref, bool) {
	if p.suffix == "" {
		return ref{}, false
	}
	name := hostName(host)
	label, ok := strings.CutSuffix(name, p.suffix)
	if !ok || label == "" || strings.Contains(label, ".") {
		return ref{}, false
	}
	parts := strings.Split(label, "--")
	var f ref
	switch len(parts) {
	case 4:
		f = ref{slug: parts[0], agent: parts[1], workspace: parts[2], owner: parts[3]}
	case 3:
		f = ref{slug: parts[0], workspace: parts[1], owner: parts[2]}
	default:
		return ref{}, false
	}
	if f.slug == "" || f.workspace == "" || f.owner == "" || len(parts) == 4 && f.agent == "" {
		return ref{}, false
	}
	f.prefix, f.subject, f.host = "/", "//"+name, name
	return f, true
}

// appHost reports whether a request's host is the proxy's: any name under the wildcard apps host,
// or a name shaped like an app's (SLUG--WORKSPACE--OWNER...) anywhere but the dashboard's own host,
// so that a mistyped or foreign app host is answered by the proxy instead of the dashboard.
func (p *Proxy) appHost(host string) bool {
	name := hostName(host)
	if name == "" || name == hostName(p.accessHost()) {
		return false
	}
	if p.suffix != "" && strings.HasSuffix(name, p.suffix) {
		return true
	}
	label, _, _ := strings.Cut(name, ".")
	parts := strings.Split(label, "--")
	if len(parts) != 3 && len(parts) != 4 {
		return false
	}
	for _, part := range parts {
		if part == "" {
			return false
		}
	}
	return true
}

// unknownHost answers a host that is the proxy's but names no app the way the pattern says.
func (p *Proxy) unknownHost(w http.ResponseWriter, r *http.Request) {
	name := hostName(r.Host)
	p.Logger.InfoContext(r.Context(), "app: refused a host that is no app's", "host", name)
	if p.suffix == "" {
		p.fail(w, http.StatusNotFound, "No app is served at "+name+": this deployment serves apps at paths only "+
			"(/@OWNER/WORKSPACE/apps/SLUG/ on the dashboard); subdomain apps need hearth server --wildcard-access-url")
		return
	}
	p.fail(w, http.StatusNotFound, "No app is served at "+name+": app hosts on this deployment look like "+
		"SLUG--AGENT--WORKSPACE--OWNER"+p.suffix+" (or SLUG--WORKSPACE--OWNER"+p.suffix+" for a workspace with one agent)")
}

// hostURL is the address of a path app's own host, with the scheme of the access URL and the port
// the request came in on.
func (p *Proxy) hostURL(r *http.Request, f ref) string {
	label := f.slug + "--" + f.workspace + "--" + f.owner
	if f.agent != "" {
		label = f.slug + "--" + f.agent + "--" + f.workspace + "--" + f.owner
	}
	host := strings.ToLower(label) + p.suffix
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		host = net.JoinHostPort(host, port)
	}
	return p.scheme() + "://" + host + "/"
}

func (p *Proxy) accessHost() string {
	if u, err := url.Parse(p.AccessURL); err == nil {
		return u.Host
	}
	return ""
}

// hostName is a Host header's name, lower-case and without the port.
func hostName(host string) string {
	name := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	return strings.TrimSuffix(name, ".")
}
