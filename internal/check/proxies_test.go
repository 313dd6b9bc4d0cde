package check

import (
	"net/netip"
	"testing"
)

func TestTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		prefix          string
		refused, public bool
	}{
		{"0.0.0.0/0", true, true},
		{"::/0", true, true},
		{"::ffff:0.0.0.0/96", true, true},
		{"10.0.0.0/8", false, false},
		{"10.0.0.0/7", false, true}, // 11.0.0.0/8 is public
		{"127.0.0.1/32", false, false},
		{"192.168.1.0/24", false, false},
		{"fd00::/8", false, false},
		{"203.0.113.7/32", false, true},
		{"2001:db8::/32", false, true},
		{"128.0.0.0/1", false, true},
	} {
		p := netip.MustParsePrefix(tc.prefix)
		if err := TrustedProxy(p); (err != nil) != tc.refused {
			t.Errorf("TrustedProxy(%s) = %v, refused want %v", p, err, tc.refused)
		}
		if got := PublicPrefix(p); got != tc.public {
			t.Errorf("PublicPrefix(%s) = %v, want %v", p, got, tc.public)
		}
	}
}
