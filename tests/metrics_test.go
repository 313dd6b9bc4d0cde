package tests

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// exposition GETs the metrics listener's text exposition.
func exposition(t *testing.T, metricsURL string) string {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatalf("GET %s: %v", metricsURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", metricsURL, resp.StatusCode, body)
	}
	return string(body)
}

// scrape reads a Prometheus text exposition into "name{labels}" → value.
func scrape(t *testing.T, metricsURL string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(exposition(t, metricsURL), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// metricTypes reads the "# TYPE name type" lines of a text exposition:
// what a Prometheus server goes by to treat a series as a counter or a
// histogram.
func metricTypes(t *testing.T, metricsURL string) map[string]string {
	t.Helper()
	types := map[string]string{}
	for _, line := range strings.Split(exposition(t, metricsURL), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	return types
}

// TestBinaryMetrics runs `keystile serve` with metrics_listen, drives a
// sign-in with a wrong and then the right password, a code exchange, a
// refresh and its replay, and two client-credentials grants, and reads
// every documented metric from the metrics listener, which the public
// listener does not serve.
func TestBinaryMetrics(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	metricsAddr := freePort(t)
	c := newCluster(t, "sqlite:keystile.db", "", "metrics_listen: "+metricsAddr+"\n")
	p := c.start(1)[0].p
	metricsURL := p.waitOutput(regexp.MustCompile(`keystile: metrics on (http://\S+)`))[1]
	issuer := c.issuer

	conf := c.oauthConfig()
	b := newBrowserFor(t, issuer, nil)
	form := b.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if pg := b.submit(ctx, form, "alice", "wrong password"); pg.status != http.StatusOK {
		t.Fatalf("a wrong password: %s", describe(pg))
	}
	fl := signInAt(ctx, t, b, issuer, conf, "alice", "alice's p@ss phrase ✓")
	tok, err := fl.exchange(ctx)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"app"}}
	for i, want := range []int{http.StatusOK, http.StatusBadRequest} {
		resp, err := http.PostForm(issuer+"/token", refresh)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("refresh %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	for range 2 {
		if _, err := c.bot(issuer).Token(ctx); err != nil {
			t.Fatalf("client credentials: %v", err)
		}
	}

	m := scrape(t, metricsURL)
	for series, want := range map[string]float64{
		`keystile_tokens_issued_total{algorithm="ES256",grant_type="authorization_code"}`: 1,
		`keystile_tokens_issued_total{algorithm="ES256",grant_type="refresh_token"}`:      1,
		`keystile_tokens_issued_total{algorithm="ES256",grant_type="client_credentials"}`: 2,
		`keystile_sign_ins_total{outcome="ok"}`:                                           1,
		`keystile_sign_ins_total{outcome="bad_credentials"}`:                              1,
		`keystile_sign_ins_total{outcome="throttled"}`:                                    0,
		`keystile_credential_reuse_total{grant_type="refresh_token"}`:                     1,
		`keystile_credential_reuse_total{grant_type="authorization_code"}`:                0,
		`keystile_http_request_duration_seconds_count{route="/token",status="200"}`:       4,
		`keystile_http_request_duration_seconds_count{route="/token",status="400"}`:       1,
		`keystile_http_request_duration_seconds_count{route="/login",status="303"}`:       1,
		`keystile_store_call_duration_seconds_count{operation="rotate_refresh_token"}`:    1,
		`keystile_store_call_duration_seconds_count{operation="revoke_family"}`:           1,
		`keystile_store_call_duration_seconds_count{operation="redeem_code"}`:             1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	types := metricTypes(t, metricsURL)
	for name, want := range map[string]string{
		"keystile_http_request_duration_seconds": "histogram",
		"keystile_tokens_issued_total":           "counter",
		"keystile_sign_ins_total":                "counter",
		"keystile_credential_reuse_total":        "counter",
		"keystile_store_call_duration_seconds":   "histogram",
		"keystile_store_errors_total":            "counter",
		"keystile_signing_key_age_seconds":       "gauge",
	} {
		if types[name] != want {
			t.Errorf("# TYPE of %s is %q, want %q", name, types[name], want)
		}
	}
	for _, name := range []string{"keystile_signing_key_age_seconds", "go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}
	if age := m["keystile_signing_key_age_seconds"]; age < 0 || age > float64(time.Hour/time.Second) {
		t.Errorf("signing key age %v s for a key made at this start", age)
	}
	if pg := get404(t, issuer+"/metrics"); pg != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", pg)
	}
}

func get404(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
