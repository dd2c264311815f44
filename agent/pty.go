package agent

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/creack/pty"

	"github.com/hearthdev/hearth/internal/tunnel"
)

// replayBytes is how much recent output a reattached terminal gets back.
const replayBytes = 64 << 10

// ptys are the web terminals: shells that outlive a dropped browser connection for a window, so
// connecting again with the same ID reattaches to the same shell.
type ptys struct {
	a      *agent
	window time.Duration

	mu       sync.Mutex
	sessions map[string]*ptySession
}

type ptySession struct {
	id   string
	f    *os.File
	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	replay []byte
	conns  map[io.ReadWriteCloser]struct{}
	expire *time.Timer
}

func newPTYs(a *agent, window time.Duration) *ptys {
	return &ptys{a: a, window: window, sessions: map[string]*ptySession{}}
}

// attach joins a stream to the terminal req names, starting it when it does not exist.
func (p *ptys) attach(st io.ReadWriteCloser, req tunnel.PTY) {
	s, err := p.get(req)
	if err != nil {
		_ = tunnel.Write(st, tunnel.Reply{Error: "cannot start a terminal: " + err.Error()})
		_ = st.Close()
		return
	}
	if tunnel.Write(st, tunnel.Reply{}) != nil {
		_ = st.Close()
		return
	}
	p.a.stats.sessionsPTY.Add(1)
	defer p.a.stats.sessionsPTY.Add(-1)
	s.mu.Lock()
	if s.expire != nil {
		s.expire.Stop()
		s.expire = nil
	}
	if len(s.replay) > 0 {
		_, _ = st.Write(s.replay)
	}
	s.conns[st] = struct{}{}
	s.mu.Unlock()
	if req.Rows > 0 && req.Cols > 0 {
		_ = pty.Setsize(s.f, &pty.Winsize{Rows: req.Rows, Cols: req.Cols})
	}
	for {
		var in tunnel.PTYInput
		if tunnel.Read(st, &in) != nil {
			break
		}
		if in.Height > 0 && in.Width > 0 {
			_ = pty.Setsize(s.f, &pty.Winsize{Rows: in.Height, Cols: in.Width})
		}
		if in.Data != "" {
			if _, err := s.f.WriteString(in.Data); err != nil {
				break
			}
		}
	}
	_ = st.Close()
	s.mu.Lock()
	delete(s.conns, st)
	if len(s.conns) == 0 {
		s.expire = time.AfterFunc(p.window, func() { p.end(s) })
	}
	s.mu.Unlock()
}

// get returns the live terminal with req's ID, or starts it.
func (p *ptys) get(req tunnel.PTY) (*ptySession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.sessions[req.ID]; s != nil {
		return s, nil
	}
	cmd := p.a.command(req.Command)
	cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	size := &pty.Winsize{Rows: 24, Cols: 80}
	if req.Rows > 0 && req.Cols > 0 {
		size = &pty.Winsize{Rows: req.Rows, Cols: req.Cols}
	}
	f, err := pty.StartWithSize(cmd, size)
	if err != nil {
		return nil, err
	}
	s := &ptySession{id: req.ID, f: f, cmd: cmd, done: make(chan struct{}), conns: map[io.ReadWriteCloser]struct{}{}}
	p.sessions[req.ID] = s
	go p.pump(s)
	return s, nil
}

// pump copies the terminal's output to every attached stream and keeps the recent part for replay,
// until the shell exits.
func (p *ptys) pump(s *ptySession) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.f.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.replay = append(s.replay, buf[:n]...)
			if len(s.replay) > replayBytes {
				s.replay = append([]byte(nil), s.replay[len(s.replay)-replayBytes:]...)
			}
			for c := range s.conns {
				if _, err := c.Write(buf[:n]); err != nil {
					_ = c.Close()
					delete(s.conns, c)
				}
			}
			s.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	_ = s.cmd.Wait()
	p.end(s)
}

// end kills a terminal's shell and closes its streams.
func (p *ptys) end(s *ptySession) {
	p.mu.Lock()
	if p.sessions[s.id] == s {
		delete(p.sessions, s.id)
	}
	p.mu.Unlock()
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	_ = s.f.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.conns = map[io.ReadWriteCloser]struct{}{}
	if s.expire != nil {
		s.expire.Stop()
	}
	s.mu.Unlock()
}

// closeAll ends every terminal (the agent is stopping).
func (p *ptys) closeAll() {
	p.mu.Lock()
	all := make([]*ptySession, 0, len(p.sessions))
	for _, s := range p.sessions {
		all = append(all, s)
	}
	p.mu.Unlock()
	for _, s := range all {
		p.end(s)
	}
}
