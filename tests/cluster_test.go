package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// cluster is several `keystile serve` processes on one PostgreSQL schema,
// with signing keys in the store, behind a round-robin HTTP proxy (rrProxy)
// whose address is the issuer: what an operator runs behind a load
// balancer.
type cluster struct {
	t         *testing.T
	dir       string
	config    string
	issuer    string // the proxy
	proxy     *rrProxy
	botSecret string
	replicas  []*replica
}

// replica is one process of the cluster, reachable directly at base.
type replica struct {
	addr, base string
	p          *process
}

// Timings of the cluster's keys, short so that a rotation fits in a test:
// every replica reads the keys every refresh and a new key signs after
// prepublish.
const (
	clusterRefresh    = 200 * time.Millisecond
	clusterPrepublish = 3 * time.Second
)

// newCluster writes the configuration of a cluster on the store storeSpec;
// extraSigning is added under signing:, extra at the top level.
func newCluster(t *testing.T, storeSpec, extraSigning, extra string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	var secretHash string
	c.botSecret, secretHash = newClientSecret(t)
	c.proxy = newRRProxy(t)
	c.issuer = c.proxy.base
	// bob, with alice's password, is the account the throttle test attacks.
	hash := sitePasswordHash(t, "alice's p@ss phrase ✓")
	writeFile(t, filepath.Join(c.dir, "users.yaml"), fmt.Sprintf("users:\n  - username: alice\n    password_hash: %q\n  - username: bob\n    password_hash: %q\n",
		hash, hash))
	c.config = filepath.Join(c.dir, "keystile.yaml")
	writeFile(t, c.config, fmt.Sprintf(`issuer: %s
store: %q
signing:
  algorithm: ES256
  refresh_every: %s
  prepublish: %s
%stokens:
  access_ttl: 5m
  session_ttl: 1h
users_file: users.yaml
%s%s`, c.issuer, storeSpec, clusterRefresh, clusterPrepublish, extraSigning, siteClients(secretHash), extra))
	return c
}

// start starts n more replicas at once and waits until all listen; the
// proxy sends to them from then on.
func (c *cluster) start(n int) []*replica {
	c.t.Helper()
	started := make([]*replica, n)
	for i := range started {
		addr := freePort(c.t)
		started[i] = &replica{addr: addr, base: "http://" + addr,
			p: startBinary(c.t, c.dir, "serve", "--config", c.config, "--listen", addr)}
	}
	for _, r := range started {
		r.p.waitOutput(listeningRe)
		c.proxy.add(r.base)
	}
	c.replicas = append(c.replicas, started...)
	return started
}

// bot returns a token source of the service account at base (a replica, or
// the proxy).
func (c *cluster) bot(base string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: "reports-bot", ClientSecret: c.botSecret,
		TokenURL: base + "/token", Scopes: []string{"reports:read"}}
}

// oauthConfig is the public app's client at the proxy.
func (c *cluster) oauthConfig() *oauth2.Config {
	return &oauth2.Config{ClientID: "app", RedirectURL: siteRedirect, Scopes: []string{"profile"},
		Endpoint: oauth2.Endpoint{AuthURL: c.issuer + "/authorize", TokenURL: c.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// rrProxy sends each request to the next ready backend in turn, and to the
// one after if a backend refuses the connection (a killed replica): a
// minimal load balancer. Like a real one it probes each backend's /readyz
// (every healthInterval) and sends nothing to one that is not ready, which
// is how a replica's drain after SIGTERM takes it out of rotation before
// its listener closes. Bodies are small and buffered, so a request can be
// sent again when it never reached a backend.
type rrProxy struct {
	base string
	srv  *http.Server

	mu       sync.Mutex
	backends []string
	down     map[string]bool // backends whose /readyz did not answer 200
	pins     map[string]int  // path → the backend that serves it alone
	next     atomic.Uint64
	tr       *http.Transport
}

func newRRProxy(t *testing.T) *rrProxy {
	t.Helper()
	addr := freePort(t)
	p := &rrProxy{base: "http://" + addr, tr: &http.Transport{MaxIdleConnsPerHost: 64}}
	p.srv = &http.Server{Addr: addr, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	ln, err := listenLoopback(addr)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	go p.srv.Serve(ln)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { p.probe(stop) })
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

// healthInterval is how often the proxy probes its backends.
const healthInterval = 50 * time.Millisecond

// probe marks each backend up or down by its /readyz until stop closes.
func (p *rrProxy) probe(stop chan struct{}) {
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-stop:
			return
		case <-time.After(healthInterval):
		}
		p.mu.Lock()
		backends := append([]string(nil), p.backends...)
		p.mu.Unlock()
		for _, b := range backends {
			resp, err := client.Get(b + "/readyz")
			ready := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			p.mu.Lock()
			if p.down == nil {
				p.down = map[string]bool{}
			}
			p.down[b] = !ready
			p.mu.Unlock()
		}
	}
}

// pin sends every request for path to backend i alone (-1: round robin
// again), so that a test can say which replica does what.
func (p *rrProxy) pin(path string, i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pins == nil {
		p.pins = map[string]int{}
	}
	if i < 0 {
		delete(p.pins, path)
	} else {
		p.pins[path] = i
	}
}

func (p *rrProxy) add(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = append(p.backends, backend)
}

func (p *rrProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "proxy: reading the body", http.StatusBadGateway)
		return
	}
	p.mu.Lock()
	backends := append([]string(nil), p.backends...)
	if i, ok := p.pins[r.URL.Path]; ok {
		backends = backends[i : i+1]
	}
	backends = slices.DeleteFunc(backends, func(b string) bool { return p.down[b] })
	p.mu.Unlock()
	if len(backends) == 0 {
		http.Error(w, "proxy: no backend is ready", http.StatusBadGateway)
		return
	}
	first := int(p.next.Add(1))
	for i := range backends {
		backend := backends[(first+i)%len(backends)]
		out, err := http.NewRequestWithContext(r.Context(), r.Method, backend+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, "proxy: bad request", http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		out.Host = r.Host
		resp, err := p.tr.RoundTrip(out)
		if err != nil {
			if refused(err) {
				continue // never reached the backend: the next one may serve it
			}
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "proxy: no backend answers", http.StatusBadGateway)
}

// refused reports a connection that was never made.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// listenLoopback listens on addr, a loopback address from freePort.
func listenLoopback(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
