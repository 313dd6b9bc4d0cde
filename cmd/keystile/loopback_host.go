package main

import (
	"net"
	"net/http"
)

// loopbackHostOnly answers only requests addressed to this loopback server
// by a loopback name: localhost, 127.0.0.1 or [::1], with its own port.
// Listening on loopback is not enough for the quickstart and keystile dev:
// a web page whose host name an attacker re-points at 127.0.0.1 (DNS
// rebinding) is same-origin with whatever its name is, and could switch
// the development user or collect codes. Its requests carry its own host
// name, so they get 421 Misdirected Request.
func loopbackHostOnly(ln net.Listener, next http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	allowed := map[string]bool{}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		allowed[net.JoinHostPort(h, port)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[r.Host] {
			http.Error(w, "this loopback server answers only to localhost, 127.0.0.1 or [::1] with its port", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}
