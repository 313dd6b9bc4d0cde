package keystile

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// getHead routes a HEAD request with no HEAD route of its own to the GET
// route of its path (RFC 9110 §9.3.2: HEAD works wherever GET does); the
// http package sends no body for HEAD. It is chi's middleware.GetHead, kept
// here because that package imports net/http/pprof for its Profiler, which
// put runtime/pprof and 0.66 MB into every keystile binary.
func getHead(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			rctx := chi.RouteContext(r.Context())
			routePath := rctx.RoutePath
			if routePath == "" {
				routePath = r.URL.Path
				if r.URL.RawPath != "" {
					routePath = r.URL.RawPath
				}
			}
			if !rctx.Routes.Match(chi.NewRouteContext(), http.MethodHead, routePath) {
				rctx.RouteMethod = http.MethodGet
				rctx.RoutePath = routePath
			}
		}
		next.ServeHTTP(w, r)
	})
}
