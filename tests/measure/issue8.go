//go:build ignore

// Measure runs the figures of issue 8 (items 1-4) against a keystile
// binary, on loopback only:
//
//	go build -o /tmp/keystile ./cmd/keystile
//	go run ./tests/measure/issue8.go -bin /tmp/keystile -item 1   # 2, 3, 4
//
// Every request goes to 127.0.0.1; the addresses in X-Forwarded-For are only
// header values (the server trusts 127.0.0.1 as its proxy). Each run is
// bounded in time (at most about 40 s). The figures of a run before and after
// the fixes are in the closing note of issue 8.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

var (
	bin   = flag.String("bin", "keystile", "the keystile binary to measure")
	item  = flag.Int("item", 1, "item to measure: 1, 2, 3 or 4")
	extra = flag.String("extra", "", "extra YAML appended to the config")
)

const (
	alicePW      = "correct horse battery staple"
	clientSecret = "backend-secret-0123456789-abcdefghijklmnop"
	challenge    = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	redirect     = "https://app.example.com/callback"
)

type server struct {
	base   string
	cmd    *exec.Cmd
	stderr *lineCounter
	dir    string
}

type lineCounter struct {
	mu    sync.Mutex
	lines int
	buf   strings.Builder
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines += strings.Count(string(p), "\n")
	if c.buf.Len() < 1<<20 {
		c.buf.Write(p)
	}
	return len(p), nil
}

func (c *lineCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines
}

func hashPassword(pw string) string {
	cmd := exec.Command(*bin, "hash-password")
	cmd.Stdin = strings.NewReader(pw + "\n")
	out, err := cmd.Output()
	if err != nil {
		panic(fmt.Sprintf("hash-password: %v", err))
	}
	return strings.TrimSpace(string(out))
}

func owaspHash(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 2, 19456, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
}

func sha256Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start writes the config and users and starts serve. It returns nil and
// the error output when the binary refuses the config.
func start(users string, clientHash string) (*server, string) {
	dir, _ := os.MkdirTemp("", "measure-")
	port := freePort()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	_ = os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600)
	cfg := fmt.Sprintf(`issuer: %s
listen: 127.0.0.1:%d
store: sqlite:keystile.db
users_file: users.yaml
trusted_proxies: [127.0.0.1]
clients:
  - id: spa
    public: true
    redirect_uris: [%s]
    scopes: [openid]
  - id: backend
    secret_hash: "%s"
    grant_types: [client_credentials]
    scopes: [reports:read]
%s`, base, port, redirect, clientHash, *extra)
	_ = os.WriteFile(filepath.Join(dir, "keystile.yaml"), []byte(cfg), 0o600)
	cmd := exec.Command(*bin, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
	stderr := &lineCounter{}
	cmd.Stderr = stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			return nil, stderr.buf.String()
		}
	case <-time.After(20 * time.Second):
		panic("the server did not start")
	}
	return &server{base: base, cmd: cmd, stderr: stderr, dir: dir}, ""
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}

var transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}

func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: transport, Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var (
	ridRE  = regexp.MustCompile(`name="request_id" value="([^"]*)"`)
	csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
)

// authorizeURL asks for the form even in a signed-in browser (prompt=login),
// as after the session has expired.
func authorizeURL(base string) string {
	return base + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {redirect},
		"scope": {"openid"}, "state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		"prompt": {"login"},
	}.Encode()
}

func do(c *http.Client, req *http.Request, xff string) (int, string) {
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type form struct{ rid, csrf string }

// openForm GETs /authorize; ok is false when no login form came back.
func openForm(c *http.Client, base, xff string) (form, int) {
	req, _ := http.NewRequest(http.MethodGet, authorizeURL(base), nil)
	st, body := do(c, req, xff)
	m1, m2 := ridRE.FindStringSubmatch(body), csrfRE.FindStringSubmatch(body)
	if st != 200 || m1 == nil || m2 == nil {
		return form{}, st
	}
	return form{m1[1], m2[1]}, st
}

func postLogin(c *http.Client, base string, f form, user, pw, xff string) int {
	body := url.Values{"request_id": {f.rid}, "csrf_token": {f.csrf}, "username": {user}, "password": {pw}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	st, _ := do(c, req, xff)
	return st
}

// signIn is a whole sign-in as a person lives it: the login page, then the
// form. It returns the final status (303 = signed in) and the time taken.
func signIn(c *http.Client, base, user, pw, xff string) (int, time.Duration) {
	t0 := time.Now()
	f, st := openForm(c, base, xff)
	if f.rid == "" {
		return st, time.Since(t0)
	}
	st = postLogin(c, base, f, user, pw, xff)
	return st, time.Since(t0)
}

func stats(d []time.Duration) string {
	if len(d) == 0 {
		return "n=0"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return fmt.Sprintf("n=%d p50=%s p90=%s max=%s", len(s), p(0.5).Round(time.Millisecond), p(0.9).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

func usersYAML(extra string) string {
	return "users:\n  - username: alice\n    password_hash: \"" + hashPassword(alicePW) + "\"\n" + extra
}

func main() {
	flag.Parse()
	switch *item {
	case 1:
		item1()
	case 2:
		item2()
	case 3:
		item3()
	case 4:
		item4()
	}
}

func item1() {
	users := usersYAML("")
	argonSecret := hashPassword(clientSecret)
	srv, refused := start(users, argonSecret)
	if srv == nil {
		fmt.Printf("item 1: a client with an argon2id secret_hash is refused at start:\n%s\n", refused)
		srv, refused = start(users, sha256Hash(clientSecret))
		if srv == nil {
			panic(refused)
		}
		fmt.Println("item 1: flooding the same client with its sha256 secret_hash instead")
	} else {
		fmt.Println("item 1: a client with an argon2id secret_hash is accepted")
	}
	defer srv.stop()
	var quiet []time.Duration
	for range 10 {
		st, d := signIn(newBrowser(), srv.base, "alice", alicePW, "198.51.100.20")
		if st != 303 {
			fmt.Println("quiet sign-in status", st)
		}
		quiet = append(quiet, d)
	}
	fmt.Println("sign-in latency, quiet:      ", stats(quiet))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, codes401, codes429, other atomic.Int64
	for range 32 {
		wg.Go(func() {
			c := &http.Client{Transport: transport, Timeout: 60 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, srv.base+"/token", strings.NewReader("grant_type=client_credentials&scope=reports:read"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("backend", "wrong-secret")
				st, _ := do(c, req, "")
				sent.Add(1)
				switch st {
				case 401:
					codes401.Add(1)
				case 429:
					codes429.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	var flooded []time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, d := signIn(newBrowser(), srv.base, "alice", alicePW, "198.51.100.20")
		if st != 303 {
			fmt.Println("flooded sign-in status", st)
		}
		flooded = append(flooded, d)
	}
	close(stop)
	wg.Wait()
	fmt.Println("sign-in latency, flooded:    ", stats(flooded))
	fmt.Printf("flood: 32 workers, %d wrong-secret /token requests (401: %d, 429: %d, other: %d)\n", sent.Load(), codes401.Load(), codes429.Load(), other.Load())
}

func item2() {
	srv, refused := start(usersYAML(""), sha256Hash(clientSecret))
	if srv == nil {
		panic(refused)
	}
	defer srv.stop()
	const victim, attacker = "198.51.100.20", "203.0.113.7"
	real := newBrowser()
	if st, _ := signIn(real, srv.base, "alice", alicePW, victim); st != 303 {
		fmt.Println("first sign-in of the real user:", st)
	}
	// The attacker: a wrong password whenever the throttle lets one through
	// (about one a second), polling fifty times a second, for ~30 s.
	stop := make(chan struct{})
	var admitted, throttled atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		c := newBrowser()
		f, _ := openForm(c, srv.base, attacker)
		for {
			switch postLogin(c, srv.base, f, "alice", "guess", attacker) {
			case 200:
				admitted.Add(1)
			case 429:
				throttled.Add(1)
			default:
				f, _ = openForm(c, srv.base, attacker)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	time.Sleep(8 * time.Second) // the attacker has spent the burst
	var ok, refusedN int
	first := time.Duration(-1)
	t0 := time.Now()
	for time.Since(t0) < 20*time.Second {
		st, _ := signIn(real, srv.base, "alice", alicePW, victim)
		if st == 303 {
			ok++
			if first < 0 {
				first = time.Since(t0)
			}
		} else {
			refusedN++
		}
		time.Sleep(2 * time.Second)
	}
	close(stop)
	wg.Wait()
	fmt.Printf("item 2: attacker polling 50/s for ~28 s from %s: %d guesses checked, %d throttled\n", attacker, admitted.Load(), throttled.Load())
	fmt.Printf("real user (the browser that signed in before), one try every 2 s for 20 s: %d signed in, %d refused; first success after %v\n", ok, refusedN, first.Round(time.Millisecond))

	// Log lines of a throttled flood: 8 workers, 10 s, one account.
	srv2, _ := start(usersYAML(""), sha256Hash(clientSecret))
	defer srv2.stop()
	before := srv2.stderr.count()
	stop2 := make(chan struct{})
	var sent atomic.Int64
	var wg2 sync.WaitGroup
	for range 8 {
		wg2.Go(func() {
			c := newBrowser()
			f, _ := openForm(c, srv2.base, attacker)
			for {
				select {
				case <-stop2:
					return
				default:
				}
				postLogin(c, srv2.base, f, "alice", "guess", attacker)
				sent.Add(1)
			}
		})
	}
	time.Sleep(10 * time.Second)
	close(stop2)
	wg2.Wait()
	time.Sleep(200 * time.Millisecond)
	fmt.Printf("log lines during a 10 s flood (8 workers, %d wrong-password posts): %d\n", sent.Load(), srv2.stderr.count()-before)
}

func item3() {
	// 50 people behind one address, each with an account of their own
	// (one hash for all, to save start-up time).
	h := hashPassword(alicePW)
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "  - username: user%d\n    password_hash: \"%s\"\n", i, h)
	}
	srv, refused := start("users:\n  - username: alice\n    password_hash: \""+h+"\"\n"+b.String(), sha256Hash(clientSecret))
	if srv == nil {
		panic(refused)
	}
	defer srv.stop()
	const office = "203.0.113.9"
	var n429, n200 atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	t0 := time.Now()
	for range 8 {
		wg.Go(func() {
			c := newBrowser()
			for next.Add(1) <= 2000 {
				req, _ := http.NewRequest(http.MethodGet, authorizeURL(srv.base), nil)
				st, _ := do(c, req, office)
				if st == 429 {
					n429.Add(1)
				} else if st == 200 {
					n200.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("item 3: 2,000 unfinished /authorize from %s in %v: %d login pages, %d refused (429)\n", office, time.Since(t0).Round(time.Millisecond), n200.Load(), n429.Load())
	// At once: 50 concurrent real sign-ins from the same address.
	var ok atomic.Int64
	var lat []time.Duration
	var mu sync.Mutex
	for i := range 50 {
		wg.Go(func() {
			st, d := signIn(newBrowser(), srv.base, fmt.Sprintf("user%d", i), alicePW, office)
			if st == 303 {
				ok.Add(1)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fmt.Printf("right after: 50 people behind the same address sign in at once: %d signed in (%s)\n", ok.Load(), stats(lat))
	// An ongoing flood of 50 pages/s while one real user tries every 0.5 s.
	stop := make(chan struct{})
	wg.Go(func() {
		c := newBrowser()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			req, _ := http.NewRequest(http.MethodGet, authorizeURL(srv.base), nil)
			do(c, req, office)
		}
	})
	var good, bad int
	first := time.Duration(-1)
	t1 := time.Now()
	for time.Since(t1) < 10*time.Second {
		st, _ := signIn(newBrowser(), srv.base, "alice", alicePW, office)
		if st == 303 {
			good++
			if first < 0 {
				first = time.Since(t1)
			}
		} else {
			bad++
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	fmt.Printf("during a sustained flood of 50 pages/s: the real user signed in %d times, refused %d; first success after %v\n", good, bad, first.Round(time.Millisecond))
}

func item4() {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "  - username: bob%d\n    password_hash: \"%s\"\n", i, owaspHash("bobs real password"))
	}
	srv, refused := start(usersYAML(b.String()), sha256Hash(clientSecret))
	if srv == nil {
		panic(refused)
	}
	defer srv.stop()
	var known, unknown []time.Duration
	longer := 0
	for i := range 30 {
		c := newBrowser()
		f1, _ := openForm(c, srv.base, fmt.Sprintf("192.0.2.%d", i+1))
		f2, _ := openForm(c, srv.base, fmt.Sprintf("192.0.2.%d", i+101))
		t0 := time.Now()
		st1 := postLogin(c, srv.base, f1, fmt.Sprintf("bob%d", i), "wrong password", fmt.Sprintf("192.0.2.%d", i+1))
		dk := time.Since(t0)
		t0 = time.Now()
		st2 := postLogin(c, srv.base, f2, fmt.Sprintf("nobody%d", i), "wrong password", fmt.Sprintf("192.0.2.%d", i+101))
		du := time.Since(t0)
		if st1 != 200 || st2 != 200 {
			fmt.Println("statuses", st1, st2)
		}
		known = append(known, dk)
		unknown = append(unknown, du)
		if du > dk {
			longer++
		}
	}
	fmt.Println("item 4: wrong password, user with an m=19456,t=2,p=1 hash:", stats(known))
	fmt.Println("        unknown user:                                      ", stats(unknown))
	fmt.Printf("        pairs where the unknown user took longer: %d of 30\n", longer)
}
