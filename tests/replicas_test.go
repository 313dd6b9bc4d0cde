package tests

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile/store/postgres/postgrestest"
)

const clusterPassword = "alice's p@ss phrase ✓"

// TestBinaryReplicas is the proof that replicas share one PostgreSQL: two
// `keystile serve` processes on one schema behind a round-robin proxy, whose
// pins decide which replica serves a path when it matters. (That the two
// publish a rotated key before either signs with it, while a remote
// verifier accepts every token, is TestBinaryStoreKeys, on the same kind of
// cluster.)
func TestBinaryReplicas(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// A daily limit of 5 makes five failures lock the account until the
	// next day, not for a second: the throttle test judges no clock.
	c := newCluster(t, postgrestest.URL(t), "", "drain_delay: 1s\nlogin_throttle:\n  attempts: 5\n  daily_limit: 5\n")
	rs := c.start(2)
	conf := c.oauthConfig()

	t.Run("a code issued by one is redeemed at the other", func(t *testing.T) {
		c.proxy.pin("/login", 0)
		c.proxy.pin("/token", 1)
		defer c.proxy.pin("/login", -1)
		defer c.proxy.pin("/token", -1)
		fl := signInAt(ctx, t, newBrowserFor(t, c.issuer, nil), c.issuer, conf, "alice", clusterPassword)
		if _, err := fl.exchange(ctx); err != nil {
			t.Fatalf("redeeming at replica 1 a code issued by replica 0: %v", err)
		}
	})

	t.Run("a refresh at one and its replay at the other revoke the family", func(t *testing.T) {
		fl := signInAt(ctx, t, newBrowserFor(t, c.issuer, nil), c.issuer, conf, "alice", clusterPassword)
		tok, err := fl.exchange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.proxy.pin("/token", 0)
		rotated, err := refreshWith(ctx, conf, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh at replica 0: %v", err)
		}
		c.proxy.pin("/token", 1)
		replay, err := refreshWith(ctx, conf, tok.RefreshToken)
		wantOAuthError(t, replay, err, "invalid_grant")
		c.proxy.pin("/token", 0)
		dead, err := refreshWith(ctx, conf, rotated.RefreshToken)
		wantOAuthError(t, dead, err, "invalid_grant")
		c.proxy.pin("/token", -1)
	})

	t.Run("logout at one ends single sign-on at both", func(t *testing.T) {
		b := newBrowserFor(t, c.issuer, nil)
		signInAt(ctx, t, b, c.issuer, conf, "alice", clusterPassword)
		for i := range rs {
			c.proxy.pin("/authorize", i)
			if got, _ := ssoAttempt(ctx, t, b, conf); got != "code" {
				t.Fatalf("before sign-out, replica %d answered %q, want a code without the form", i, got)
			}
		}
		c.proxy.pin("/logout", 0)
		f := logoutForm(ctx, t, c.issuer, b, url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {siteSignedOut}})
		if out := b.postForm(ctx, f.action, f.fields, nil); out.status != http.StatusSeeOther {
			t.Fatalf("POST /logout at replica 0: %s", describe(out))
		}
		c.proxy.pin("/logout", -1)
		for i := range rs {
			c.proxy.pin("/authorize", i)
			if got, _ := ssoAttempt(ctx, t, b, conf); got != "form" {
				t.Errorf("after sign-out at replica 0, replica %d answered %q, want the login form", i, got)
			}
		}
		c.proxy.pin("/authorize", -1)
	})

	t.Run("50 concurrent redemptions of one code across both: exactly one wins", func(t *testing.T) {
		fl := signInAt(ctx, t, newBrowserFor(t, c.issuer, nil), c.issuer, conf, "alice", clusterPassword)
		const racers = 50
		var wins, refused atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range racers {
			wg.Go(func() {
				<-start
				_, err := fl.exchange(ctx)
				switch {
				case err == nil:
					wins.Add(1)
				case errorCode(err) == "invalid_grant":
					refused.Add(1)
				default:
					t.Errorf("a losing redemption: %v, want invalid_grant", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || refused.Load() != racers-1 {
			t.Errorf("%d redemptions won and %d were refused, want exactly 1 and %d", wins.Load(), refused.Load(), racers-1)
		}
	})

	t.Run("five failed sign-ins at one throttle the account at the other; its known device gets in", func(t *testing.T) {
		defer c.proxy.pin("/login", -1)
		c.proxy.pin("/login", 1)
		owner := newBrowserFor(t, c.issuer, nil)
		signInAt(ctx, t, owner, c.issuer, conf, "bob", clusterPassword) // a known device from now on
		c.proxy.pin("/login", 0)
		attacker := newBrowserFor(t, c.issuer, nil)
		for i := range 5 {
			form := attacker.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if p := attacker.submit(ctx, form, "bob", "guess"); p.status != http.StatusOK {
				t.Fatalf("wrong password %d at replica 0: %s, want the form again", i+1, describe(p))
			}
		}
		c.proxy.pin("/login", 1)
		for _, b := range []*browser{attacker, newBrowserFor(t, c.issuer, nil)} {
			form := b.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			// The right password: the account is spent, whoever asks.
			if p := b.submit(ctx, form, "bob", clusterPassword); p.status != http.StatusTooManyRequests {
				t.Errorf("sign-in at replica 1 after five failures at replica 0: %s, want 429", describe(p))
			}
		}
		// prompt=login: the owner's session would skip the form.
		form := owner.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("prompt", "login")))
		if q := authResponse(t, owner.submit(ctx, form, "bob", clusterPassword), conf.RedirectURL); q.Get("code") == "" {
			t.Errorf("the known device's sign-in at replica 1 during the attack: %v, want a code", q)
		}
	})

	t.Run("figures: token requests through one replica and through two", func(t *testing.T) {
		const n, conc = 600, 8
		rts := families(ctx, t, c, conc)
		for _, replicas := range []int{1, 2} {
			if replicas == 1 {
				c.proxy.pin("/token", 0)
			}
			cc := rate(n, conc, func(int) error { _, err := c.bot(c.issuer).Token(ctx); return err })
			rf := rate(n, conc, func(w int) error {
				next, err := refreshWith(ctx, conf, rts[w])
				if err == nil {
					rts[w] = next.RefreshToken
				}
				return err
			})
			c.proxy.pin("/token", -1)
			t.Logf("%d replica(s): %.0f client-credentials grants/s, %.0f refresh grants/s (%d each, %d at once, through the test's proxy)",
				replicas, cc, rf, n, conc)
		}
	})

	t.Run("stopping one replica under load loses no refresh family", func(t *testing.T) {
		const workers, rounds = 8, 250
		tokens := families(ctx, t, c, workers)
		var done atomic.Int32
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Go(func() {
				for r := range rounds {
					next, err := refreshWith(ctx, conf, tokens[i])
					if err != nil {
						t.Errorf("worker %d, round %d: %v", i, r, err)
						return
					}
					tokens[i] = next.RefreshToken
					done.Add(1)
				}
			})
		}
		// Stop replica 0 once the load is under way: SIGTERM, which drains
		// (drain_delay) and lets requests in flight finish. (A SIGKILL in
		// the middle of a refresh can lose the rotated token on its way to
		// the client, whose retry is then a replay: the rotation rule
		// revokes that family on any deployment, replicated or not.)
		for done.Load() < workers*rounds/4 {
			time.Sleep(5 * time.Millisecond)
		}
		if err := rs[0].p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM: %v", err)
		}
		atSignal := done.Load()
		select {
		case <-rs[0].p.done:
		case <-time.After(30 * time.Second):
			t.Fatal("replica 0 did not exit within 30s of SIGTERM")
		}
		if rs[0].p.err != nil {
			t.Errorf("replica 0 after SIGTERM: %v, want exit code 0", rs[0].p.err)
		}
		t.Logf("of %d refreshes, %d were done at SIGTERM and %d when replica 0 had exited", workers*rounds, atSignal, done.Load())
		wg.Wait()
		for i, rt := range tokens {
			if _, err := refreshWith(ctx, conf, rt); err != nil {
				t.Errorf("family %d after the stop: %v", i, err)
			}
		}
		if got, _ := probe(t, rs[1].base+"/readyz"); got != http.StatusOK {
			t.Errorf("replica 1 /readyz after replica 0 stopped: %d", got)
		}
	})
}

// TestBinaryReplicasShareTheAddressBudget: the failures of one client
// address are counted in the shared store, so per_address failures through
// one replica make the other refuse that address's next sign-in, to an
// account that has not failed once (its own budget is whole). Every request
// reaches the replicas from the proxy's address, which is the client
// address here. A cluster of its own: the budget of 3 would throttle the
// other replica tests, which all come from that one address.
func TestBinaryReplicasShareTheAddressBudget(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, postgrestest.URL(t), "", "login_throttle:\n  per_address: 3\n")
	c.start(2)
	conf := c.oauthConfig()
	defer c.proxy.pin("/login", -1)
	c.proxy.pin("/login", 0)
	attacker := newBrowserFor(t, c.issuer, nil)
	for i, account := range []string{"alice", "carol", "dave"} { // a different account each time
		form := attacker.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p := attacker.submit(ctx, form, account, "guess"); p.status != http.StatusOK {
			t.Fatalf("wrong password %d (%s) at replica 0: %s, want the form again", i+1, account, describe(p))
		}
	}
	c.proxy.pin("/login", 1)
	b := newBrowserFor(t, c.issuer, nil)
	form := b.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	// bob, with the right password: his account has no failure; the
	// address has spent its minute at replica 0.
	p := b.submit(ctx, form, "bob", clusterPassword)
	if p.status != http.StatusTooManyRequests {
		t.Fatalf("sign-in at replica 1 after 3 failures from the address at replica 0: %s, want 429", describe(p))
	}
	if ra := p.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q, want the seconds until the address's window ends", ra)
	}
}

// families signs alice in once and returns n refresh tokens, each of its
// own family, from codes of that browser session (single sign-on).
func families(ctx context.Context, t *testing.T, c *cluster, n int) []string {
	t.Helper()
	conf := c.oauthConfig()
	b := newBrowserFor(t, c.issuer, nil)
	signInAt(ctx, t, b, c.issuer, conf, "alice", clusterPassword)
	out := make([]string, n)
	for i := range out {
		got, q := ssoAttempt(ctx, t, b, conf)
		if got != "code" {
			t.Fatalf("single sign-on answered %q", got)
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(q.Get("verifier")))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = tok.RefreshToken
	}
	return out
}

// rate runs n requests, conc workers at once (worker w calls do(w)), and
// returns how many completed per second; an error stops that worker, and
// the rate is then 0. It never asserts a timing: the figures are for
// docs/service.md.
func rate(n, conc int, do func(worker int) error) float64 {
	var next atomic.Int32
	var failed atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			for next.Add(1) <= int32(n) {
				if do(w) != nil {
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return 0
	}
	return float64(n) / time.Since(start).Seconds()
}
