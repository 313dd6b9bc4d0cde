package keystile

import (
	"net/http"
	"net/url"
	"slices"
)

// maxParams bounds how many distinct parameters a request may carry.
const maxParams = 64

// params holds a request's parameters once every one of them is known to
// appear at most once.
type params map[string]string

// singleValues flattens v and refuses a parameter given twice, which Go's
// FormValue would silently resolve by taking the first (RFC 6749 §3.1:
// "Request and response parameters MUST NOT be included more than once").
// Parameters sent without a value are treated as omitted (RFC 6749 §3.1).
// The names of the repeated parameters are returned with the error, sorted,
// so that /authorize can tell a repeated client_id from a repeated scope.
func singleValues(v url.Values) (params, []string, *oauthErr) {
	if len(v) > maxParams {
		return nil, nil, oauthError(codeInvalidRequest, "the request has too many parameters")
	}
	p := make(params, len(v))
	var repeated []string
	for k, vs := range v {
		if len(vs) > 1 {
			repeated = append(repeated, k)
			continue
		}
		if len(vs) == 1 && vs[0] != "" {
			p[k] = vs[0]
		}
	}
	if len(repeated) > 0 {
		slices.Sort(repeated)
		return p, repeated, oauthError(codeInvalidRequest, "the parameter "+safeParamName(repeated[0])+" is repeated")
	}
	return p, nil, nil
}

// safeParamName keeps a parameter name printable and short enough to echo
// in an error description.
func safeParamName(k string) string {
	if len(k) > 40 || !printableASCII(k) {
		return "(unprintable)"
	}
	return k
}

// readPageForm reads the POST form of a page (the login form, /device),
// refusing a repeated field; on a refusal it has already answered with the
// error page.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request) (params, bool) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, oauthError(codeInvalidRequest, "The form could not be read."))
		return nil, false
	}
	p, _, perr := singleValues(r.PostForm)
	if perr != nil {
		s.errorPage(w, r, perr)
		return nil, false
	}
	return p, true
}
