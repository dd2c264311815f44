package tailnet

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
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

// tcpHandler hands an incoming flow to the listener of its port; flows to other ports are refused.
func (c *Conn) tcpHandler(_, dst netip.AddrPort) (func(net.Conn), bool) {
	if dst.Addr() != c.addr {
		return nil, false
	}
	c.mu.Lock()
	l, ok := c.listeners[dst.Port()]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return func(conn net.Conn) {
		select {
		case l.conns <- conn:
		case <-l.done:
			_ = conn.Close()
		}
	}, true
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
