package keystile

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}}}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "198.51.100.7:5555", nil, "198.51.100.7"},
		{"untrusted peer's header is ignored", "198.51.100.7:5555", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted proxy", "10.0.0.2:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed entries left of the real client", "10.0.0.2:443", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", "10.0.0.2:443", []string{"203.0.113.9, 10.1.1.1", "10.2.2.2"}, "203.0.113.9"},
		{"trusted proxy without header", "10.0.0.2:443", nil, "10.0.0.2"},
		{"garbled hop stops the walk", "10.0.0.2:443", []string{"203.0.113.9, garbage"}, "10.0.0.2"},
		{"IPv4-mapped client", "10.0.0.2:443", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"IPv6 proxy and client", "[::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"all hops trusted", "10.0.0.2:443", []string{"10.9.9.9"}, "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientAddr(r); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}
