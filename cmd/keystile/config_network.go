package main

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/keystile/keystile/internal/check"
)

// trustedProxies parses CIDR prefixes (a bare address means just itself),
// refuses the catch-all ones the library refuses and warns about public
// ranges.
func (c *checker) trustedProxies(items []string, key string) []netip.Prefix {
	var out []netip.Prefix
	for _, item := range items {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				c.addf("%s: %q is not an address or a CIDR prefix such as 10.0.0.0/8", key, item)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		if err := check.TrustedProxy(p); err != nil {
			c.addf("%s: %v", key, err)
			continue
		}
		if check.PublicPrefix(p) {
			c.warnf("%s: %s holds public addresses: every host in it may set X-Forwarded-For and choose the address the login throttle counts; list only your reverse proxies", key, p)
		}
		out = append(out, p)
	}
	return out
}

// checkExposure compares where the server listens with how its issuer is
// reached. An http issuer is allowed on loopback only (check.Issuer), so a
// server behind it that listens beyond loopback would send the password
// form and tokens over plain HTTP to the network: refused. An https issuer
// beyond loopback means a TLS proxy in front; without trusted_proxies every
// user shares that proxy's throttle budget: a warning.
func (c *checker) checkExposure(s *settings) {
	host, _, err := net.SplitHostPort(s.Listen)
	if err != nil || check.LoopbackHost(host) {
		return
	}
	u, err := url.Parse(s.Issuer)
	if err != nil {
		return // the issuer's own problem is reported already
	}
	where := host
	if where == "" {
		where = "every interface"
	}
	switch {
	case u.Scheme == "http":
		c.addf("%s: %s listens on %s, but the issuer %s is plain http on loopback: the password form and tokens would cross the network unencrypted; listen on 127.0.0.1, or put a TLS proxy in front and make the issuer its https URL", c.listenKey, s.Listen, where, s.Issuer)
	case len(s.TrustedProxies) == 0:
		c.warnf("%s: %s listens on %s with an https issuer but no trusted_proxies: Keystile serves plain HTTP, so a TLS proxy is in front, and without listing it in trusted_proxies every user shares the proxy's login-throttle budget", c.listenKey, s.Listen, where)
	}
}
