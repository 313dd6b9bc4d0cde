package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
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
	out := runBinary(t, "", "client-secret")
	secret := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
	secretHash := regexp.MustCompile(`(?m)^secret_hash: (\S+)$`).FindStringSubmatch(out)
	if secret == nil || secretHash == nil {
		t.Fatalf("client-secret printed no client_secret and secret_hash lines:\n%s", out)
	}
	c.botSecret = secret[1]
	c.proxy = newRRProxy(t)
	c.issuer = c.proxy.base
	writeFile(t, filepath.Join(c.dir, "users.yaml"), fmt.Sprintf("users:\n  - username: alice\n    password_hash: %q\n",
		sitePasswordHash(t, "alice's p@ss phrase ✓")))
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
clients:
  - id: app
    public: true
    redirect_uris: [%s]
    post_logout_redirect_uris: [%s]
    scopes: [profile]
  - id: reports-bot
    secret_hash: %q
    grant_types: [client_credentials]
    scopes: [reports:read]
%s`, c.issuer, storeSpec, clusterRefresh, clusterPrepublish, extraSigning, siteRedirect, siteSignedOut, secretHash[1], extra))
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

// rrProxy sends each request to the next backend in turn, and to the one
// after if a backend refuses the connection (a killed replica): a minimal
// load balancer. Bodies are small and buffered, so a request can be sent
// again when it never reached a backend.
type rrProxy struct {
	base string
	srv  *http.Server

	mu       sync.Mutex
	backends []string
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
	t.Cleanup(func() {
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
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
	p.mu.Unlock()
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
