package main

import (
	"strings"
	"testing"
)

// TestConfigExposure: where the server listens, how its issuer is reached
// and which proxies it believes (issue: an http issuer served to the
// network, a catch-all trusted_proxies).
func TestConfigExposure(t *testing.T) {
	httpIssuer := strings.Replace(spaOnly, "https://auth.example.com", "http://127.0.0.1:9000", 1)
	for _, tc := range []struct {
		name, config, listenFlag string
		wantErr                  []string // substrings of the error; none means it loads
		wantWarn                 []string // substrings of the warnings, in order; none means no warning
	}{
		{name: "http loopback issuer on loopback", config: httpIssuer + "listen: 127.0.0.1:9000\n"},
		{name: "http loopback issuer on localhost", config: httpIssuer + "listen: localhost:9000\n"},
		{
			name:    "http loopback issuer on every interface",
			config:  httpIssuer + "listen: 0.0.0.0:9000\n",
			wantErr: []string{"listen: 0.0.0.0:9000 listens on 0.0.0.0", "plain http", "unencrypted"},
		},
		{
			name:    "http loopback issuer with an empty host",
			config:  httpIssuer + "listen: \":9000\"\n",
			wantErr: []string{"listens on every interface"},
		},
		{
			name:       "http loopback issuer with --listen beyond loopback",
			config:     httpIssuer,
			listenFlag: "192.0.2.10:9000",
			wantErr:    []string{"--listen: 192.0.2.10:9000 listens on 192.0.2.10"},
		},
		{
			name:     "https issuer beyond loopback without trusted proxies",
			config:   spaOnly + "listen: 0.0.0.0:9000\n",
			wantWarn: []string{"listen: 0.0.0.0:9000 listens on 0.0.0.0 with an https issuer but no trusted_proxies"},
		},
		{name: "https issuer beyond loopback behind a listed proxy", config: spaOnly + "listen: 0.0.0.0:9000\ntrusted_proxies: [10.0.0.5]\n"},
		{name: "https issuer on loopback", config: spaOnly},
		{
			name:    "catch-all trusted proxies",
			config:  spaOnly + "trusted_proxies: [0.0.0.0/0, \"::/0\", 10.0.0.0/8]\n",
			wantErr: []string{"2 problems", "trusted_proxies: 0.0.0.0/0 trusts every address", "trusted_proxies: ::/0 trusts every address"},
		},
		{
			name:     "public trusted proxies",
			config:   spaOnly + "trusted_proxies: [203.0.113.0/24, 192.168.0.0/16]\n",
			wantWarn: []string{"trusted_proxies: 203.0.113.0/24 holds public addresses"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearKeystileEnv(t)
			path := writeFile(t, t.TempDir(), "keystile.yaml", tc.config)
			s, err := loadConfigListen(path, envMap(nil), tc.listenFlag)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("loaded; want an error with %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if len(s.Warnings) != len(tc.wantWarn) {
				t.Fatalf("warnings %q, want %d like %q", s.Warnings, len(tc.wantWarn), tc.wantWarn)
			}
			for i, w := range tc.wantWarn {
				if !strings.Contains(s.Warnings[i], w) {
					t.Errorf("warning %q does not contain %q", s.Warnings[i], w)
				}
			}
			if tc.listenFlag != "" && s.Listen != tc.listenFlag {
				t.Errorf("listen = %q, want the flag's %q", s.Listen, tc.listenFlag)
			}
		})
	}
}
