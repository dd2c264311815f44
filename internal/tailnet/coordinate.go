package tailnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/coder/websocket"
)

// The coordinator's protocol, over a websocket of text messages, JSON each:
// the control plane sends an Update at once (with the DERP map) and again whenever the peers
// change; the node sends a Message whenever it changes.

// Update is what the coordinator tells a node.
type Update struct {
	// DERPMap is in the first update, and in a later one whenever the map changes (a workspace
	// proxy started or stopped serving DERP).
	DERPMap *DERPMap `json:"derp_map,omitempty"`
	// EndpointNetworks, in the first update, are the only networks the deployment lets direct
	// paths use (CIDR prefixes; none: any).
	EndpointNetworks []string `json:"endpoint_networks,omitempty"`
	// Peers are every node this one may reach now: for a client, the agent (once it is connected);
	// for an agent, the clients asking for it. A node missing from the list is gone.
	Peers []Node `json:"peers"`
}

// Message is what a node tells the coordinator.
type Message struct {
	Node *Node `json:"node"`
}

// MaxMessage bounds a message either way; a longer one closes the connection.
const MaxMessage = 64 << 10

// Coordination is a node's open connection to the coordinator.
type Coordination struct {
	ws    *websocket.Conn
	first Update
}

// Dial opens the coordination at url (ws:// or http:// both work) with the given credentials,
// and reads the coordinator's first update.
func Dial(ctx context.Context, url string, header http.Header) (*Coordination, error) {
	ws, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header}) //nolint:bodyclose // websocket.Dial closes it
	if err != nil {
		if res != nil {
			return nil, &RefusedError{Status: res.StatusCode}
		}
		return nil, fmt.Errorf("tailnet: coordinate: %w", err)
	}
	ws.SetReadLimit(MaxMessage)
	co := &Coordination{ws: ws}
	if err := co.read(ctx, &co.first); err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	if co.first.DERPMap == nil {
		_ = ws.CloseNow()
		return nil, errors.New("tailnet: the coordinator sent no DERP map")
	}
	return co, nil
}

// RefusedError is a coordinator's refusal of the websocket, by its HTTP status.
type RefusedError struct{ Status int }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("tailnet: the coordinator refused the connection (%d %s)", e.Status, http.StatusText(e.Status))
}

// DERPMap is the map the coordinator sent first (Run applies the later ones).
func (co *Coordination) DERPMap() DERPMap { return *co.first.DERPMap }

// EndpointNetworks are the networks the deployment lets direct paths use (none: any).
func (co *Coordination) EndpointNetworks() ([]netip.Prefix, error) {
	ps, err := ParseNetworks(co.first.EndpointNetworks)
	if err != nil {
		return nil, fmt.Errorf("tailnet: the coordinator's endpoint networks: %w", err)
	}
	return ps, nil
}

func (co *Coordination) read(ctx context.Context, u *Update) error {
	_, data, err := co.ws.Read(ctx)
	if err != nil {
		return fmt.Errorf("tailnet: coordinate: %w", err)
	}
	if err := json.Unmarshal(data, u); err != nil {
		return fmt.Errorf("tailnet: coordinate: the coordinator sent %w", err)
	}
	return nil
}

// Revoked reports whether a coordination ended because the coordinator withdrew the node's authority
// (a revoked token, a workspace no longer shared), with the coordinator's reason.
func Revoked(err error) (reason string, ok bool) {
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Code == websocket.StatusPolicyViolation {
		return ce.Reason, true
	}
	return "", false
}

// Run joins conn to the coordination until either ends: conn's node goes to the coordinator
// whenever it changes, and the coordinator's peers to conn. onPeers, when set, sees each peer set
// after conn does.
func (co *Coordination) Run(ctx context.Context, conn *Conn, onPeers func([]Node)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() { _ = co.ws.CloseNow() }()
	// This node goes to the coordinator before it takes its peers: greeting them opens a DERP
	// connection, which is admitted only once the coordinator knows the node's key.
	nodes := make(chan Node, 1)
	conn.OnNode(func(n Node) {
		select { // the latest node wins
		case <-nodes:
		default:
		}
		nodes <- n
	})
	defer conn.OnNode(func(Node) {})
	errs := make(chan error, 2)
	go func() {
		for {
			select {
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			case n := <-nodes:
				data, _ := json.Marshal(Message{Node: &n})
				wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
				err := co.ws.Write(wctx, websocket.MessageText, data)
				wcancel()
				if err != nil {
					errs <- fmt.Errorf("tailnet: coordinate: %w", err)
					return
				}
			}
		}
	}()
	conn.SetPeers(co.first.Peers)
	if onPeers != nil {
		onPeers(co.first.Peers)
	}
	go func() {
		for {
			var u Update
			if err := co.read(ctx, &u); err != nil {
				errs <- err
				return
			}
			if u.DERPMap != nil {
				if dm, err := u.DERPMap.Tailscale(); err != nil {
					conn.log.Warn("tailnet: the coordinator sent a DERP map this node cannot use; keeping the last", "error", err)
				} else {
					conn.SetDERPMap(dm)
				}
			}
			conn.SetPeers(u.Peers)
			if onPeers != nil {
				onPeers(u.Peers)
			}
		}
	}()
	return <-errs
}

// Send tells the coordinator this node's state, for a caller that runs no Conn (a simulated
// node in the scale harness).
func (co *Coordination) Send(ctx context.Context, n Node) error {
	data, err := json.Marshal(Message{Node: &n})
	if err != nil {
		return err
	}
	if err := co.ws.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("tailnet: coordinate: %w", err)
	}
	return nil
}

// Next waits for the coordinator's next update, for a caller that runs no Conn.
func (co *Coordination) Next(ctx context.Context) (Update, error) {
	var u Update
	err := co.read(ctx, &u)
	return u, err
}

// Close ends the coordination.
func (co *Coordination) Close() error { return co.ws.CloseNow() }
