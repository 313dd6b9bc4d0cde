package keystile

import (
	"log/slog"
	"net/http"
)

// maxBodyBytes bounds every request body (docs/security.md §10); no Keystile
// endpoint needs more than a few hundred bytes.
const maxBodyBytes = 64 << 10

// limitRequest bounds the request body so that a huge POST costs nothing.
// Each endpoint answers the read error in its own format (JSON for /token,
// an error page for the forms).
func limitRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a generic 500 and logs it without the request
// URI, headers or body, which may carry codes, cookies or credentials. A
// panic is a bug; this only keeps it from taking the process down or leaking.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic while serving a request", "path", r.URL.Path, "panic", v)
					http.Error(w, "internal error", http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// sameOriginForm refuses cross-origin form posts using Sec-Fetch-Site and
// Origin (Go's CrossOriginProtection), in addition to the form's CSRF token
// and the browser-binding cookie (docs/security.md §5).
func (s *Server) sameOriginForm(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, oauthError(codeAccessDenied, "This form was sent from another site, so it was refused.").withStatus(http.StatusForbidden))
	}))
	return p.Handler(next)
}
