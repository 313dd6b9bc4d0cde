package tests

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards loopback TCP connections to a target, and can be cut:
// how a test makes PostgreSQL unreachable for one replica without stopping
// the machine's shared server, which other tests use.
type tcpProxy struct {
	t      *testing.T
	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// newTCPProxy listens on a loopback port and forwards to target until the
// test ends.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &tcpProxy{t: t, target: target, ln: ln, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		wg.Wait()
	})
	return p
}

// addr is where clients connect.
func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

// setCut cuts (closing every open connection and refusing new ones) or
// restores the proxy.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// track registers c unless the proxy is cut, in which case it closes c.
func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *tcpProxy) accept() {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		in, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if !p.track(in) {
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(out) {
			in.Close()
			continue
		}
		wg.Go(func() { pipe(out, in) })
		wg.Go(func() { pipe(in, out) })
	}
}

// pipe copies until either side ends, then closes both.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}
