package tests

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// revocationWait bounds how long a replica may take to refuse a token
// another replica revoked: the PostgreSQL notice's trip, well under a
// millisecond on loopback, plus the poll. The test asserts the refusal,
// not its speed.
const revocationWait = 5 * time.Second

// TestBinaryReplicasRevocation: two `keystile serve` replicas on one
// PostgreSQL keep the deny-list in memory. A token revoked at one is
// refused at the other's /userinfo as soon as the notice arrives, and still
// is after the other's listener connection is killed and comes back, for a
// token revoked while it was away.
func TestBinaryReplicasRevocation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dbURL := postgrestest.URL(t)
	c := newCluster(t, dbURL, "", "")
	// /userinfo answers the app's tokens only for an OpenID sign-in.
	config, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.config, strings.Replace(string(config), "scopes: [profile]", "scopes: [openid, profile]", 1))
	rs := c.start(2)
	for _, r := range rs {
		r.waitLog(t, "the deny-list is kept in memory", 1)
	}
	conf := c.oauthConfig()
	conf.Scopes = []string{"openid", "profile"}
	token := func() string {
		fl := signInAt(ctx, t, newBrowserFor(t, c.issuer, nil), c.issuer, conf, "alice", clusterPassword)
		tok, err := fl.exchange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}

	t.Run("revoked at one, refused at the other", func(t *testing.T) {
		at := token()
		if got := userInfoStatus(ctx, t, rs[1].base, at); got != http.StatusOK {
			t.Fatalf("/userinfo at replica 1 before the revocation: %d", got)
		}
		revokeAt(ctx, t, rs[0].base, at)
		waited := refusedWithin(ctx, t, rs[1].base, at)
		t.Logf("replica 1 refused the token %v after replica 0's /revoke answered", waited)
	})

	t.Run("a killed listener comes back and sees what was revoked meanwhile", func(t *testing.T) {
		at := token()
		if got := userInfoStatus(ctx, t, rs[1].base, at); got != http.StatusOK {
			t.Fatalf("/userinfo at replica 1 before the revocation: %d", got)
		}
		admin, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(context.Background())
		// Both replicas' listeners: this schema's only, not other tests'.
		var killed int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'keystile revocations ' || 'revoked_access_tokens'::regclass::oid`).Scan(&killed); err != nil || killed != 2 {
			t.Fatalf("terminated %d listeners (%v), want 2", killed, err)
		}
		rs[1].waitLog(t, "the deny-list feed was lost", 1)
		// Revoked while replica 1 may still be away: refused at once, by a
		// store read while the feed is down, or by the reload after it.
		revokeAt(ctx, t, rs[0].base, at)
		if got := userInfoStatus(ctx, t, rs[1].base, at); got != http.StatusUnauthorized {
			t.Fatalf("/userinfo at replica 1 right after the revocation, listener down or just back: %d, want 401", got)
		}
		rs[1].waitLog(t, "the deny-list is kept in memory", 2)
		if got := userInfoStatus(ctx, t, rs[1].base, at); got != http.StatusUnauthorized {
			t.Fatalf("/userinfo at replica 1 after its listener came back: %d, want 401", got)
		}
		// And the new listener hears the next revocation.
		next := token()
		revokeAt(ctx, t, rs[0].base, next)
		refusedWithin(ctx, t, rs[1].base, next)
	})
}

// waitLog waits until the replica's log holds line n times.
func (r *replica) waitLog(t *testing.T, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(r.p.stderr.String(), line) < n {
		if time.Now().After(deadline) {
			t.Fatalf("replica %s did not log %q %d times within 30 s", r.base, line, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func userInfoStatus(ctx context.Context, t *testing.T, base, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// revokeAt revokes the app's token at base (RFC 7009).
func revokeAt(ctx context.Context, t *testing.T, base, token string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/revoke",
		strings.NewReader(url.Values{"token": {token}, "client_id": {"app"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/revoke at %s: %d", base, resp.StatusCode)
	}
}

// refusedWithin polls base's /userinfo until it refuses token, for at most
// revocationWait, and returns how long that took.
func refusedWithin(ctx context.Context, t *testing.T, base, token string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if userInfoStatus(ctx, t, base, token) == http.StatusUnauthorized {
			return time.Since(start)
		}
		if time.Since(start) > revocationWait {
			t.Fatalf("%s still accepts a revoked token after %v", base, revocationWait)
		}
		time.Sleep(time.Millisecond)
	}
}
