// Package check holds the configuration rules that both the library (New)
// and the binary (its YAML checker) apply, so that the two cannot drift:
// the binary reports the same problem the library would refuse, at load
// time and together with every other problem of the file.
package check

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Issuer accepts an absolute https URL, or http on a loopback host, with no
// query, fragment or userinfo (RFC 8414 §2) and no trailing slash. A bare
// "?" or "#" counts as a query or fragment: url.Parse drops it, but the
// issuer is compared as a string. Errors quote the value and say the fix.
func Issuer(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(raw, "?#") {
		return nil, fmt.Errorf("%q must have no query, fragment or userinfo", raw)
	}
	if strings.HasSuffix(raw, "/") {
		// Relying parties compare the issuer string exactly (OIDC Discovery
		// §4.3); it is served as written, so write it without the slash.
		return nil, fmt.Errorf("%q must not end with a slash: write %q", raw, strings.TrimRight(raw, "/"))
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if LoopbackHost(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("%q: plain http is allowed only on loopback (127.0.0.1, [::1], localhost); use https", raw)
	default:
		return nil, fmt.Errorf("%q must be an https URL", raw)
	}
}

// LoopbackHost reports whether a URL's host names this machine only:
// "localhost" or a loopback IP literal.
func LoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
