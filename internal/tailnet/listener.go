package tailnet

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Listen accepts TCP connections to port on the node's address, from any peer it knows.
func (c *Conn) Listen(port uint16) (net.Listener, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if _, ok := c.listeners[port]; ok {
		return nil, fmt.Errorf("tailnet: port %d is taken", port)
	}
	l := &listener{c: c, port: port, conns: make(chan net.Conn), done: make(chan struct{})}
	c.listeners[port] = l
	return l, nil
}

// tcpHandler hands an incoming flow to the listener of its port, or forwards it to the loopback;
// other flows are refused. Every connection is tracked by its peer, to end with the peer.
func (c *Conn) tcpHandler(src, dst netip.AddrPort) (func(net.Conn), bool) {
	if dst.Addr() != c.addr {
		return nil, false
	}
	if _, known := c.peers.Load().byIP[src.Addr()]; !known {
		return nil, false
	}
	c.mu.Lock()
	l, ok := c.listeners[dst.Port()]
	forward := c.forward
	c.mu.Unlock()
	switch {
	case ok:
		return func(conn net.Conn) {
			conn = c.track(src.Addr(), conn)
			select {
			case l.conns <- conn:
			case <-l.done:
				_ = conn.Close()
			}
		}, true
	case forward:
		return func(conn net.Conn) {
			conn = c.track(src.Addr(), conn)
			defer func() { _ = conn.Close() }()
			d := net.Dialer{Timeout: 10 * time.Second}
			target, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(dst.Port()))))
			if err != nil {
				return
			}
			defer func() { _ = target.Close() }()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(target, conn); closeWrite(target); done <- struct{}{} }()
			go func() { _, _ = io.Copy(conn, target); closeWrite(conn); done <- struct{}{} }()
			<-done
			<-done
		}, true
	}
	return nil, false
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// track remembers conn under its peer's address until it closes.
func (c *Conn) track(peer netip.Addr, conn net.Conn) net.Conn {
	t := &tracked{Conn: conn}
	c.mu.Lock()
	if c.open[peer] == nil {
		c.open[peer] = map[net.Conn]struct{}{}
	}
	c.open[peer][t] = struct{}{}
	c.mu.Unlock()
	t.forget = func() {
		c.mu.Lock()
		delete(c.open[peer], t)
		if len(c.open[peer]) == 0 {
			delete(c.open, peer)
		}
		c.mu.Unlock()
	}
	return t
}

// closeStrangers ends the connections of peers that are not in set.
func (c *Conn) closeStrangers(set *peerSet) {
	var ends []net.Conn
	c.mu.Lock()
	for ip, conns := range c.open {
		if _, ok := set.byIP[ip]; ok {
			continue
		}
		for conn := range conns {
			ends = append(ends, conn)
		}
	}
	c.mu.Unlock()
	for _, conn := range ends {
		_ = conn.Close()
	}
}

type tracked struct {
	net.Conn
	once   sync.Once
	forget func()
}

func (t *tracked) Close() error {
	t.once.Do(t.forget)
	return t.Conn.Close()
}

func (t *tracked) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type listener struct {
	c     *Conn
	port  uint16
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case conn := <-l.conns:
		return conn, nil
	case <-l.done:
		return nil, ErrClosed
	}
}

func (l *listener) close() { l.once.Do(func() { close(l.done) }) }

func (l *listener) Close() error {
	l.c.mu.Lock()
	if l.c.listeners[l.port] == l {
		delete(l.c.listeners, l.port)
	}
	l.c.mu.Unlock()
	l.close()
	return nil
}

func (l *listener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.c.addr, l.port))
}
