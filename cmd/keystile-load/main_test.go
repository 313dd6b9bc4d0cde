package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestCheckIssuerRefusesAnythingButLoopback(t *testing.T) {
	tests := []struct {
		name   string
		issuer string
		want   string // "" when refused
	}{
		{"IPv4 loopback", "http://127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"anywhere in 127/8", "http://127.8.9.10:1", "http://127.8.9.10:1"},
		{"IPv6 loopback", "http://[::1]:9000", "http://[::1]:9000"},
		{"localhost", "http://localhost:9000", "http://localhost:9000"},
		{"localhost in capitals, https, trailing slash", "https://LOCALHOST/", "https://LOCALHOST"},
		{"issuer with a path", "http://127.0.0.1:9000/auth/", "http://127.0.0.1:9000/auth"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:9000", "http://[::ffff:127.0.0.1]:9000"},

		{"public name", "http://example.com", ""},
		{"private address", "http://192.168.1.10:9000", ""},
		{"10/8", "http://10.0.0.1:9000", ""},
		{"unspecified address", "http://0.0.0.0:9000", ""},
		{"IPv6 unspecified", "http://[::]:9000", ""},
		{"IPv6 other than ::1", "http://[::2]:9000", ""},
		{"IPv4-mapped public address", "http://[::ffff:8.8.8.8]:9000", ""},
		{"name that looks loopback", "http://127.0.0.1.nip.io:9000", ""},
		{"subdomain of localhost elsewhere", "http://localhost.example.com", ""},
		{"localhost with a trailing dot (a DNS name)", "http://localhost.:9000", ""},
		{"short IPv4 form", "http://127.1:9000", ""},
		{"loopback only as user information", "http://127.0.0.1@evil.example:9000", ""},
		{"user information on loopback", "http://user@127.0.0.1:9000", ""},
		{"query", "http://127.0.0.1:9000?x=1", ""},
		{"other scheme", "ftp://127.0.0.1", ""},
		{"no scheme", "127.0.0.1:9000", ""},
		{"empty", "", ""},
		{"no host", "http:///token", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkIssuer(tc.issuer)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("checkIssuer(%q) = %q, want it refused", tc.issuer, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("checkIssuer(%q) = %q, %v; want %q", tc.issuer, got, err, tc.want)
			}
		})
	}
}

// The dialer checks the address actually connected to, after resolution.
func TestDialLoopbackOnly(t *testing.T) {
	tests := []struct {
		name    string
		address string
		allowed bool
	}{
		{"IPv4 loopback", "127.0.0.1:9000", true},
		{"127/8", "127.0.1.1:9000", true},
		{"IPv6 loopback", "[::1]:9000", true},
		{"private address", "192.168.1.10:9000", false},
		{"public address", "93.184.216.34:443", false},
		{"IPv6 public", "[2001:db8::1]:443", false},
		{"unresolved name", "localhost:9000", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := dialLoopbackOnly("tcp", tc.address, nil)
			if (err == nil) != tc.allowed {
				t.Fatalf("dialLoopbackOnly(%q) = %v, want allowed=%t", tc.address, err, tc.allowed)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	env := map[string]string{envClientSecret: "s3cret", envPassword: "pw"}
	noEnv := map[string]string{}
	cc := []string{"--issuer", "http://127.0.0.1:9000", "--mode", "client-credentials", "--client-id", "bot"}
	pkce := []string{"--issuer", "http://127.0.0.1:9000", "--mode", "pkce", "--client-id", "spa", "--redirect-uri", "https://app.example/cb", "--username", "alice"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
	}{
		{"client credentials", cc, env, ""},
		{"pkce", pkce, env, ""},
		{"verify needs no client", []string{"--issuer", "http://[::1]:9000", "--mode", "verify"}, noEnv, ""},
		{"longest duration", append(cc, "--duration", "5m"), env, ""},
		{"most workers", append(cc, "--concurrency", "256"), env, ""},
		{"token endpoint elsewhere", append(cc, "--token-path", "/oauth/token"), env, ""},
		{"a count of iterations", append(cc, "--iterations", "50"), env, ""},

		{"remote issuer", []string{"--issuer", "http://auth.example.com", "--mode", "verify"}, noEnv, "not a loopback address"},
		{"unknown mode", []string{"--issuer", "http://127.0.0.1:9000", "--mode", "password"}, noEnv, "--mode"},
		{"duration over five minutes", append(cc, "--duration", "5m1s"), env, "--duration"},
		{"zero duration", append(cc, "--duration", "0s"), env, "--duration"},
		{"no workers", append(cc, "--concurrency", "0"), env, "--concurrency"},
		{"too many workers", append(cc, "--concurrency", "257"), env, "--concurrency"},
		{"token path without a slash", append(cc, "--token-path", "oauth/token"), env, "--token-path"},
		{"token path with a query", append(cc, "--token-path", "/token?x=1"), env, "--token-path"},
		{"negative iterations", append(cc, "--iterations", "-1"), env, "--iterations"},
		{"client secret missing from the environment", cc, noEnv, envClientSecret},
		{"password missing from the environment", pkce, map[string]string{}, envPassword},
		{"pkce without a redirect URI", []string{"--issuer", "http://127.0.0.1:9000", "--mode", "pkce", "--client-id", "spa", "--username", "alice"}, env, "--redirect-uri"},
		{"secret on the command line", append(cc, "s3cret"), noEnv, "never on the command line"},
		{"unknown flag", append(cc, "--client-secret", "s3cret"), noEnv, "not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("parseOptions: %v", err)
				}
				if o.duration <= 0 || o.duration > maxDuration || o.concurrency < 1 || o.concurrency > maxConcurrency {
					t.Fatalf("accepted options out of bounds: duration %s, concurrency %d", o.duration, o.concurrency)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseOptions error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseOptionsDefaults(t *testing.T) {
	o, err := parseOptions([]string{"--issuer", "http://127.0.0.1:9000/", "--mode", "verify"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	if o.duration != 10*time.Second || o.concurrency != 1 || o.issuer != "http://127.0.0.1:9000" {
		t.Fatalf("defaults: duration %s, concurrency %d, issuer %q; want 10s, 1, no trailing slash", o.duration, o.concurrency, o.issuer)
	}
}

// Several users spread the sign-ins over several per-user throttle buckets;
// worker i signs in as the (i mod n)-th.
func TestParseOptionsSeveralUsers(t *testing.T) {
	args := []string{"--issuer", "http://127.0.0.1:9000", "--mode", "pkce", "--client-id", "spa", "--redirect-uri", "https://app.example/cb", "--username", "alice, bob,,carol"}
	o, err := parseOptions(args, func(k string) string { return map[string]string{envPassword: "pw"}[k] }, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	if got := strings.Join(o.usernames, "|"); got != "alice|bob|carol" {
		t.Fatalf("usernames = %q, want alice|bob|carol", got)
	}
}
