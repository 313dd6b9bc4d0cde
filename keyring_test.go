package keystile

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/store/memory"
)

// rotTTL is the access token lifetime of the rotation tests; a retired key
// must stay for rotTTL + DefaultLeeway.
const rotTTL = 10 * time.Minute

// rotEnv is a real Server with the given keys behind a real HTTP listener on
// loopback, on a clock the test moves.
type rotEnv struct {
	srv    *Server
	http   *httptest.Server
	clock  *testutil.Clock
	issuer string
}

func newRotEnv(t *testing.T, keys ...SigningKey) *rotEnv {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	clock := testutil.StoppedClock(sigTestNow)
	srv, err := New(Config{
		Issuer: issuer,
		Store:  memory.New(),
		Keys:   keys,
		ValidateUser: func(context.Context, string, string) (Identity, error) {
			return Identity{}, ErrInvalidCredentials
		},
		AccessTokenTTL: rotTTL,
		Logger:         slog.New(slog.DiscardHandler),
		Now:            clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return &rotEnv{srv: srv, http: hs, clock: clock, issuer: issuer}
}

// claims are those of an access token issued now by this server.
func (e *rotEnv) claims(ttl time.Duration) jwt.MapClaims {
	now := e.clock.Now()
	return jwt.MapClaims{
		"iss": e.issuer, "sub": "alice", "aud": e.issuer, "client_id": "spa",
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": newSecret()[:22],
	}
}

// issue signs an access token with the server's current signer, as /token
// does.
func (e *rotEnv) issue(t *testing.T) string {
	t.Helper()
	tok, err := e.srv.signer().signAccessToken(e.claims(rotTTL))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// remoteVerifier checks tokens the way a resource server in another process
// does: from the JWKS URL, over HTTP, on the test's clock.
func (e *rotEnv) remoteVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		Issuer:     e.issuer,
		JWKSURL:    e.issuer + "/.well-known/jwks.json",
		HTTPClient: e.http.Client(),
		Now:        e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jwksKids fetches the JWKS over HTTP and returns its kids in order.
func (e *rotEnv) jwksKids(t *testing.T) []string {
	t.Helper()
	resp, err := e.http.Client().Get(e.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: status %d: %s", resp.StatusCode, body)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	kids := []string{}
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	kid, _ := decodeSegment(t, tok, 0)["kid"].(string)
	return kid
}

func kidsOf(keys []SigningKey) []string {
	kids := []string{}
	for _, k := range keys {
		kids = append(kids, k.KeyID())
	}
	return kids
}

// publicKids are the kids a JWKS must list for keys: the asymmetric ones.
func publicKids(keys ...SigningKey) []string {
	kids := []string{}
	for _, k := range keys {
		if k.Public() != nil {
			kids = append(kids, k.KeyID())
		}
	}
	return kids
}

func newES256(t testing.TB) SigningKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := NewSigningKey(k)
	return mustKey(t, sk, err)
}

func newEdDSA(t testing.TB) SigningKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := NewSigningKey(priv)
	return mustKey(t, sk, err)
}

func TestRotateKey(t *testing.T) {
	rs2 := func(t testing.TB) SigningKey { k, err := NewSigningKey(sigTestRSA2()); return mustKey(t, k, err) }
	tests := []struct {
		name      string
		old, next func(testing.TB) SigningKey
	}{
		{"RS256 to RS256", sigTestRS, rs2},
		{"ES256 to EdDSA", newES256, func(t testing.TB) SigningKey { return newEdDSA(t) }},
		{"HS256 to RS256", func(t testing.TB) SigningKey { return mustHS256(t) }, sigTestRS},
		{"HS256 to HS256", func(t testing.TB) SigningKey { return mustHS256(t) }, func(t testing.TB) SigningKey { return mustHS256(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, next := tt.old(t), tt.next(t)
			e := newRotEnv(t, old)
			remote := e.remoteVerifier(t) // created before the rotation, never rebuilt
			inProcess := e.srv.Verifier()

			early := e.issue(t)
			if old.Public() != nil {
				if _, err := remote.Verify(t.Context(), early); err != nil {
					t.Fatalf("JWKS verifier, before the rotation: %v", err)
				}
			}
			if got, want := e.jwksKids(t), publicKids(old); !slices.Equal(got, want) {
				t.Fatalf("JWKS before the rotation lists %v, want %v", got, want)
			}

			e.clock.Advance(time.Minute)
			last := e.issue(t) // the old key's last token, signed at the rotation
			if err := e.srv.RotateKey(next); err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			retiredAt := e.clock.Now()
			fresh := e.issue(t)
			if kidOf(t, fresh) != next.KeyID() || kidOf(t, last) != old.KeyID() {
				t.Fatalf("kids: after the rotation %q (want the new %q), before %q (want the old %q)", kidOf(t, fresh), next.KeyID(), kidOf(t, last), old.KeyID())
			}
			if got, want := kidsOf(e.srv.keys.list()), []string{next.KeyID(), old.KeyID()}; !slices.Equal(got, want) {
				t.Errorf("SigningKeys = %v, want the new key then the old one %v", got, want)
			}
			for name, tok := range map[string]string{"old key, before": early, "old key, at the rotation": last, "new key": fresh} {
				if _, err := inProcess.Verify(t.Context(), tok); err != nil {
					t.Errorf("in-process verifier refused the token of the %s: %v", name, err)
				}
			}
			if got, want := e.jwksKids(t), publicKids(next, old); !slices.Equal(got, want) {
				t.Errorf("JWKS after the rotation lists %v, want %v (the new key and the retired one; never an HMAC secret)", got, want)
			}

			// The JWKS verifier refetches when it meets the new kid, once
			// its refresh interval since the last fetch has passed.
			e.clock.Advance(DefaultJWKSRefreshInterval)
			if next.Public() != nil {
				if _, err := remote.Verify(t.Context(), fresh); err != nil {
					t.Errorf("JWKS verifier made before the rotation refused a token of the new key: %v", err)
				}
			}
			if old.Public() != nil {
				if _, err := remote.Verify(t.Context(), last); err != nil {
					t.Errorf("JWKS verifier refused the old key's last token: %v", err)
				}
			}

			// One second before every token of the old key has expired,
			// the old key is still trusted; at that moment it is gone.
			e.clock.Advance(retiredAt.Add(rotTTL + DefaultLeeway - time.Second).Sub(e.clock.Now()))
			if _, err := inProcess.Verify(t.Context(), last); err != nil {
				t.Errorf("the old key's last token was refused before it expired: %v", err)
			}
			if got, want := e.jwksKids(t), publicKids(next, old); !slices.Equal(got, want) {
				t.Errorf("JWKS a second before the old key's tokens expire lists %v, want %v", got, want)
			}
			e.clock.Advance(time.Second)
			if got, want := e.jwksKids(t), publicKids(next); !slices.Equal(got, want) {
				t.Errorf("JWKS after the old key's tokens expired lists %v, want only the new key %v", got, want)
			}
			if got, want := kidsOf(e.srv.keys.list()), []string{next.KeyID()}; !slices.Equal(got, want) {
				t.Errorf("SigningKeys = %v, want only the new key %v", got, want)
			}
			// A long-lived token of the old key shows that the key, not
			// only its tokens, is gone.
			longOld := sigTestSign(t, old, e.claims(24*time.Hour))
			if _, err := inProcess.Verify(t.Context(), longOld); err == nil {
				t.Error("in-process verifier still trusts the old key after its tokens expired")
			}
			if _, err := inProcess.Verify(t.Context(), e.issue(t)); err != nil {
				t.Errorf("a token of the new key was refused: %v", err)
			}
			if old.Public() != nil {
				// A remote verifier drops it when its cache ages out.
				e.clock.Advance(DefaultJWKSMaxAge)
				if _, err := remote.Verify(t.Context(), longOld); err == nil {
					t.Error("JWKS verifier still trusts the old key after its cache aged out")
				}
			}
		})
	}
}

func TestRotateKeyRefusals(t *testing.T) {
	signer, verifyOnly, retired := newES256(t), newES256(t), newES256(t)
	tests := []struct {
		name string
		key  SigningKey
	}{
		{"the current signer", signer},
		{"a configured verification key", verifyOnly},
		{"a retired key still in the ring", retired},
		{"an uninitialised key", SigningKey{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRotEnv(t, retired, verifyOnly)
			if err := e.srv.RotateKey(signer); err != nil {
				t.Fatal(err)
			}
			before := kidsOf(e.srv.keys.list())
			if err := e.srv.RotateKey(tt.key); err == nil {
				t.Fatal("RotateKey accepted the key")
			}
			if got := kidsOf(e.srv.keys.list()); !slices.Equal(got, before) {
				t.Errorf("a refused rotation changed the keys: %v, was %v", got, before)
			}
			if kid := kidOf(t, e.issue(t)); kid != signer.KeyID() {
				t.Errorf("tokens are signed by %q, want the unchanged signer %q", kid, signer.KeyID())
			}
		})
	}
}

func TestRotateKeyReusesAnExpiredKid(t *testing.T) {
	a, b := mustHS256(t), mustHS256(t)
	e := newRotEnv(t, a)
	if err := e.srv.RotateKey(b); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(rotTTL + DefaultLeeway)
	// a has left the ring: bringing it back is a new rotation, not a clash.
	if err := e.srv.RotateKey(a); err != nil {
		t.Fatalf("RotateKey back to a key that left the ring: %v", err)
	}
	if got, want := kidsOf(e.srv.keys.list()), []string{a.KeyID(), b.KeyID()}; !slices.Equal(got, want) {
		t.Errorf("SigningKeys = %v, want %v", got, want)
	}
}

// TestRotateKeyConcurrently rotates from many goroutines while others sign,
// verify and fetch the JWKS; run it with -race.
func TestRotateKeyConcurrently(t *testing.T) {
	const rotators, workers = 8, 4
	first := newES256(t)
	e := newRotEnv(t, first)
	next := make([]SigningKey, rotators)
	for i := range next {
		next[i] = newES256(t)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, rotators)
	for _, k := range next {
		wg.Go(func() {
			<-start
			errs <- e.srv.RotateKey(k)
		})
	}
	var tokMu sync.Mutex
	var tokens []string
	for range workers {
		wg.Go(func() {
			<-start
			for range 10 {
				tok, err := e.srv.signer().signAccessToken(e.claims(rotTTL))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := e.srv.Verifier().Verify(context.Background(), tok); err != nil {
					t.Errorf("a token signed during rotations was refused: %v", err)
				}
				tokMu.Lock()
				tokens = append(tokens, tok)
				tokMu.Unlock()
				if len(e.jwksKids(t)) == 0 {
					t.Error("the JWKS was empty during rotations")
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("RotateKey: %v", err)
		}
	}
	got := kidsOf(e.srv.keys.list())
	all := append(kidsOf(next), first.KeyID())
	if len(got) != rotators+1 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != rotators+1 {
		t.Fatalf("after %d rotations the ring holds %v, want %d distinct keys", rotators, got, rotators+1)
	}
	for _, kid := range got {
		if !slices.Contains(all, kid) {
			t.Errorf("the ring holds an unknown kid %q", kid)
		}
	}
	if got[0] == first.KeyID() {
		t.Error("the first key still signs after every rotation")
	}
	for _, tok := range tokens {
		if _, err := e.srv.Verifier().Verify(t.Context(), tok); err != nil {
			t.Errorf("a token signed during rotations is refused afterwards: %v", err)
		}
	}
}

func TestRotateKeyConcurrentlyWithOneKey(t *testing.T) {
	const n = 8
	e := newRotEnv(t, newES256(t))
	k := newES256(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range n {
		wg.Go(func() {
			<-start
			if e.srv.RotateKey(k) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of %d concurrent rotations to the same key succeeded, want exactly 1", wins, n)
	}
}

func TestSetKeys(t *testing.T) {
	a, b, c := newES256(t), newES256(t), newES256(t)
	now := sigTestNow
	grace := rotTTL + DefaultLeeway
	tests := []struct {
		name    string
		initial []SigningKey
		entries []SigningKey
		times   int // SetKeys calls with the same entries
		// want maps a clock offset from now to the kids expected then.
		want map[time.Duration][]string
	}{
		{
			name:    "a new first key signs and the retired one verifies until its tokens expire",
			initial: []SigningKey{a},
			entries: []SigningKey{b, a.Retire(now)},
			want:    map[time.Duration][]string{0: {b.KeyID(), a.KeyID()}, grace - time.Second: {b.KeyID(), a.KeyID()}, grace: {b.KeyID()}},
		},
		{
			name:    "reloading the same entries changes nothing",
			initial: []SigningKey{a},
			entries: []SigningKey{b, a.Retire(now)},
			times:   3,
			want:    map[time.Duration][]string{0: {b.KeyID(), a.KeyID()}, grace - time.Second: {b.KeyID(), a.KeyID()}, grace: {b.KeyID()}},
		},
		{
			name:    "the same signer alone is a no-op",
			initial: []SigningKey{a},
			entries: []SigningKey{a},
			times:   2,
			want:    map[time.Duration][]string{0: {a.KeyID()}, 24 * time.Hour: {a.KeyID()}},
		},
		{
			name:    "a key missing from the entries stops verifying at once",
			initial: []SigningKey{a, c},
			entries: []SigningKey{a},
			want:    map[time.Duration][]string{0: {a.KeyID()}},
		},
		{
			name:    "the running signer retired long ago in the file counts as retired now",
			initial: []SigningKey{a},
			entries: []SigningKey{b, a.Retire(now.Add(-time.Hour))},
			want:    map[time.Duration][]string{grace - time.Second: {b.KeyID(), a.KeyID()}, grace: {b.KeyID()}},
		},
		{
			name:    "another key retired long ago is dropped at once",
			initial: []SigningKey{a},
			entries: []SigningKey{a, c.Retire(now.Add(-time.Hour))},
			want:    map[time.Duration][]string{0: {a.KeyID()}},
		},
		{
			name:    "an entry that is not retired verifies with no end",
			initial: []SigningKey{a},
			entries: []SigningKey{a, c},
			want:    map[time.Duration][]string{0: {a.KeyID(), c.KeyID()}, 24 * time.Hour: {a.KeyID(), c.KeyID()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRotEnv(t, tt.initial...)
			oldTok := e.issue(t)
			for range max(tt.times, 1) {
				if err := e.srv.SetKeys(tt.entries); err != nil {
					t.Fatalf("SetKeys: %v", err)
				}
			}
			if kid := kidOf(t, e.issue(t)); kid != tt.entries[0].KeyID() {
				t.Errorf("tokens are signed by %q, want the first entry %q", kid, tt.entries[0].KeyID())
			}
			// The token signed before the reload verifies exactly when its
			// key is still trusted.
			_, err := e.srv.Verifier().Verify(t.Context(), oldTok)
			if trusted := slices.Contains(kidsOf(e.srv.keys.list()), tt.initial[0].KeyID()); trusted != (err == nil) {
				t.Errorf("the token signed before the reload: verify error %v, but its key trusted = %v", err, trusted)
			}
			for _, d := range slices.Sorted(maps.Keys(tt.want)) {
				e.clock.Advance(now.Add(d).Sub(e.clock.Now()))
				if got := kidsOf(e.srv.keys.list()); !slices.Equal(got, tt.want[d]) {
					t.Errorf("at +%v SigningKeys = %v, want %v", d, got, tt.want[d])
				}
				if got := e.jwksKids(t); !slices.Equal(got, tt.want[d]) {
					t.Errorf("at +%v the JWKS lists %v, want %v", d, got, tt.want[d])
				}
			}
		})
	}
}

func TestSetKeysRefusals(t *testing.T) {
	a, b := newES256(t), newES256(t)
	tests := []struct {
		name    string
		entries []SigningKey
	}{
		{"no entries", nil},
		{"a retired first key", []SigningKey{b.Retire(sigTestNow)}},
		{"a key id given twice", []SigningKey{b, b.Retire(sigTestNow)}},
		{"an uninitialised key", []SigningKey{b, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRotEnv(t, a)
			if err := e.srv.SetKeys(tt.entries); err == nil {
				t.Fatal("SetKeys accepted the entries")
			}
			if got := kidsOf(e.srv.keys.list()); !slices.Equal(got, []string{a.KeyID()}) {
				t.Errorf("a refused SetKeys changed the keys to %v", got)
			}
		})
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	a := newES256(t)
	tests := []struct {
		name string
		keys []SigningKey
		want string
	}{
		{"uninitialised", []SigningKey{a, {}}, "Config.Keys[1]"},
		{"a key id given twice", []SigningKey{a, a}, "Config.Keys[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{
				Issuer: sigTestIssuer, Store: memory.New(), Keys: tt.keys,
				ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// TestTokenEndpointSignsWithTheRotatedKey runs the whole flow through /token
// before and after a rotation.
func TestTokenEndpointSignsWithTheRotatedKey(t *testing.T) {
	e := newTestEnv(t)
	before := e.token(exchangeForm(e.spaCode()), nil)
	next := mustHS256(t)
	if err := e.srv.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	after := e.token(exchangeForm(e.spaCode()), nil)
	if before.AccessToken == "" || after.AccessToken == "" {
		t.Fatalf("no tokens: %+v, %+v", before, after)
	}
	if kid := kidOf(t, after.AccessToken); kid != next.KeyID() {
		t.Errorf("/token signed with %q after the rotation, want %q", kid, next.KeyID())
	}
	for name, tok := range map[string]string{"before": before.AccessToken, "after": after.AccessToken} {
		if _, err := e.srv.Verifier().Verify(t.Context(), tok); err != nil {
			t.Errorf("the token issued %s the rotation was refused: %v", name, err)
		}
	}
}
