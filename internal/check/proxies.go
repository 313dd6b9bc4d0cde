package check

import (
	"fmt"
	"net/netip"
)

// TrustedProxy refuses a trusted-proxy prefix that trusts every address of
// a family (0.0.0.0/0, ::/0, or all of IPv4 mapped into IPv6): any client
// could then write its own X-Forwarded-For and pick the address the login
// throttle counts against, which is no throttle at all.
func TrustedProxy(p netip.Prefix) error {
	if p.Bits() == 0 || (p.Addr().Is4In6() && p.Bits() <= 96) {
		return fmt.Errorf("%s trusts every address, so any client could choose its own address for the login throttle; list your proxies' addresses or private ranges (e.g. 10.0.0.0/8)", p)
	}
	return nil
}

// PublicPrefix reports whether p reaches beyond private, loopback and
// link-local addresses: trusting a public range means trusting whoever
// holds it, which is rarely meant for a reverse proxy.
func PublicPrefix(p netip.Prefix) bool {
	p = p.Masked()
	return !local(p.Addr()) || !local(lastAddr(p))
}

func local(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
