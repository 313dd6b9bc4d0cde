package keystile

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keystile/keystile/password"
)

// originRule says whether an endpoint binds browser origins to clients.
type originRule bool

const (
	// originBound: /token and /revoke, which browser apps call (cors.go).
	originBound originRule = true
	// anyOrigin: /introspect, which no browser app calls.
	anyOrigin originRule = false
)

// readClientRequest reads the form of /token, /revoke or /introspect, once,
// and authenticates the client that sent it. Where origins are bound, the
// client the request claims to be is checked against the browser's Origin
// first (checkOrigin), before the form's own problems are reported: a page
// on a foreign origin learns nothing about the request it forged.
func (s *Server) readClientRequest(r *http.Request, origins originRule) (*Client, params, error) {
	p, values, err := readTokenForm(r)
	if origins == originBound {
		if oerr := s.checkOrigin(r, claimedClientID(r, values)); oerr != nil {
			return nil, nil, oerr
		}
	}
	if err != nil {
		return nil, nil, err
	}
	client, err := s.authenticateClient(r, p)
	if err != nil {
		return nil, nil, err
	}
	return client, p, nil
}

// errParamsInQuery answers a request whose parameters are all in the URL
// query: they are never read there, and without this the empty body would
// read as a missing client_id and get invalid_client (issue 8, item 9).
var errParamsInQuery = oauthError(codeInvalidRequest, "the parameters belong in the request body (application/x-www-form-urlencoded), not in the URL query")

// readTokenForm reads the body only (never the URL query: docs/security.md §2)
// as application/x-www-form-urlencoded, and refuses repeated parameters.
// values is the body as url.ParseQuery reads it, repetitions and all, or nil
// when it cannot be read or parsed; p is set only when the form is good. A
// request with an empty body and a query is told where its parameters go.
func readTokenForm(r *http.Request) (p params, values url.Values, err error) {
	// The body is already bounded by limitRequest.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, oauthError(codeInvalidRequest, "the request body is too large").withStatus(http.StatusRequestEntityTooLarge)
		}
		return nil, nil, oauthError(codeInvalidRequest, "the request body could not be read")
	}
	if len(body) == 0 && r.URL.RawQuery != "" {
		return nil, nil, errParamsInQuery
	}
	if !isFormContentType(r.Header.Get("Content-Type")) {
		return nil, nil, oauthError(codeInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	return parseTokenForm(string(body))
}

// formContentType is the one media type of /token, /revoke and /introspect
// bodies.
const formContentType = "application/x-www-form-urlencoded"

// isFormContentType reports whether a Content-Type header names
// formContentType. The header as clients send it is compared first, which
// spares mime.ParseMediaType (and the map it allocates) on nearly every
// request; anything else (parameters, case, spaces) it parses.
func isFormContentType(v string) bool {
	if v == formContentType {
		return true
	}
	mt, _, err := mime.ParseMediaType(v)
	return err == nil && mt == formContentType
}

// parseTokenForm is the pure parser behind readTokenForm (fuzzed).
func parseTokenForm(body string) (p params, values url.Values, err error) {
	values, qerr := url.ParseQuery(body)
	if qerr != nil {
		values = nil
	}
	if strings.Count(body, "&") >= maxParams {
		return nil, values, oauthError(codeInvalidRequest, "the request has too many parameters")
	}
	if qerr != nil {
		return nil, nil, oauthError(codeInvalidRequest, "the body is not valid form encoding")
	}
	p, _, perr := singleValues(values)
	if perr != nil {
		return nil, values, perr
	}
	return p, values, nil
}

// claimedClientID is the client a request says it comes from, found the way
// authenticateClient finds it (the Basic user name, else the form's
// client_id), before anything is authenticated. It is "" when there is no
// single client_id to find; the endpoint then answers the request's problem.
func claimedClientID(r *http.Request, values url.Values) string {
	if r.Header.Get("Authorization") != "" {
		user, _, ok := r.BasicAuth()
		if !ok {
			return ""
		}
		id, err := url.QueryUnescape(user)
		if err != nil {
			return ""
		}
		return id
	}
	if len(values["client_id"]) != 1 {
		return ""
	}
	return values["client_id"][0]
}

// authenticateClient identifies the client by client_secret_basic,
// client_secret_post or, for public clients, client_id alone (RFC 6749
// §2.3.1). Using two methods at once is an error. Every failure is the same
// invalid_client, so nothing tells which part was wrong. Failures are
// throttled (clientThrottle): a throttled attempt is refused with 429
// before its secret is looked at.
func (s *Server) authenticateClient(r *http.Request, p params) (*Client, error) {
	id, secret := p["client_id"], p["client_secret"]
	if h := r.Header.Get("Authorization"); h != "" {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, errBadClient
		}
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
		uid, err1 := url.QueryUnescape(user)
		upass, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, errBadClient
		}
		if secret != "" || (id != "" && id != uid) {
			return nil, oauthError(codeInvalidRequest, "use one client authentication method")
		}
		id, secret = uid, upass
	}
	if id == "" {
		return nil, errBadClient
	}
	client, known := s.client(id)
	addr := s.clientAddr(r)
	var knownAddr string // the mark of a known address, for a known client only
	if known {
		knownAddr = knownClientAddress(id, addr)
	}
	wait, end := s.clientThrottle.begin(s.now(), s.clientAuthKeys(id, knownAddr, addr)...)
	if wait > 0 {
		s.logThrottled(r, s.clientLog, "client authentication throttled", "client_id", truncate(id, 64), "addr", addr)
		return nil, errClientThrottled.withRetryAfter(wait)
	}
	ok := known && s.checkClient(r, client, secret)
	if !known {
		// Spend the same work as a real check, so timing does not reveal
		// which client ids exist.
		password.CheckClientSecret(r.Context(), dummySecretHash, secret)
	}
	now := s.now()
	if !ok {
		end(now, failed)
		return nil, errBadClient
	}
	end(now, succeeded)
	s.clientThrottle.remember(knownAddr, now, now.Add(knownClientAddressTTL))
	return client, nil
}

// checkClient reports whether secret authenticates client: none for a
// public client, its secret for a confidential one.
func (s *Server) checkClient(r *http.Request, client *Client, secret string) bool {
	if client.Public {
		return secret == ""
	}
	return secret != "" && password.CheckClientSecret(r.Context(), client.SecretHash, secret)
}

var (
	errBadClient       = oauthError(codeInvalidClient, "client authentication failed").withStatus(http.StatusUnauthorized)
	errClientThrottled = oauthError(codeInvalidClient, "too many failed client authentications; retry later").withStatus(http.StatusTooManyRequests)
)

// The throttle of failed client authentication (docs/security.md §5).
// Client secrets are random 256-bit values checked with one SHA-256, so
// this is not what keeps them from being guessed; it bounds what a flood of
// wrong secrets costs and logs. Failures count against the client and
// against the address they come from. An address where the client
// authenticated in the last day has a budget of its own for that client,
// so that a flood against a client's id from elsewhere does not lock the
// real client out.
//
// They are policy values already, so that naming one in a limitKey on
// every request does not box a copy.
var (
	clientPolicy        policy = bucketPolicy{every: time.Second, burst: 10}
	clientAddressPolicy policy = bucketPolicy{every: time.Second / 2, burst: 20}
	knownAddressPolicy  policy = bucketPolicy{every: time.Second, burst: 10}
)

// knownClientAddressTTL is how long a successful authentication makes its
// address a known one for the client.
const knownClientAddressTTL = 24 * time.Hour

func knownClientAddress(id, addr string) string { return "k:" + id + "|" + addressKey(addr) }

// clientAuthKeys are the throttle keys of an authentication as id from
// addr; knownAddr is knownClientAddress(id, addr) for a known id, "" for an
// unknown one. An unknown id counts against the address only: invented ids
// must not fill the throttle with buckets of their own.
func (s *Server) clientAuthKeys(id, knownAddr, addr string) []limitKey {
	switch {
	case knownAddr != "" && s.clientThrottle.remembered(knownAddr, s.now()):
		return []limitKey{{knownAddr, knownAddressPolicy}}
	case knownAddr == "":
		return []limitKey{{"a:" + addressKey(addr), clientAddressPolicy}}
	default:
		return []limitKey{{"c:" + id, clientPolicy}, {"a:" + addressKey(addr), clientAddressPolicy}}
	}
}

// dummySecretHash is checked against for unknown client ids.
var dummySecretHash = password.HashClientSecret("keystile-dummy-secret")
