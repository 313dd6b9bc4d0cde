package keystile

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address the login throttle and the login-page cap key
// on. It is the peer address, unless the peer is one of
// Config.TrustedProxies: then it is the right-most address in
// X-Forwarded-For that is not itself a trusted proxy, the first hop a
// trusted proxy saw. Entries left of it are whatever the client wrote and
// are never believed; without trusted proxies the header is ignored.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop at the last address we can vouch for
		}
		hop = hop.Unmap()
		if !s.trusted(hop) {
			return hop.String()
		}
		peer = hop
	}
	return peer.String()
}

func (s *Server) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
