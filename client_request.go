package keystile

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keystile/keystile/password"
)

// originRule says whether an endpoint binds browser origins to clients.
type originRule bool

const (
	// originBound: /token, /device_authorization and /revoke, which
	// browser apps call (cors.go).
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
	p, formID, err := readTokenForm(r)
	// checkOrigin looks at nothing else without an Origin header: the
	// claimed client is only worked out (Basic decoded again) with one.
	if _, sent := r.Header["Origin"]; sent && origins == originBound {
		if oerr := s.checkOrigin(r, claimedClientID(r, formID)); oerr != nil {
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
// formID is the form's client_id as parseTokenForm finds it; p is set only
// when the form is good. A request with an empty body and a query is told
// where its parameters go.
func readTokenForm(r *http.Request) (p params, formID clientIDParam, err error) {
	// The body is already bounded by limitRequest.
	body, err := readFormBody(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, formID, oauthError(codeInvalidRequest, "the request body is too large").withStatus(http.StatusRequestEntityTooLarge)
		}
		return nil, formID, oauthError(codeInvalidRequest, "the request body could not be read")
	}
	if len(body) == 0 && r.URL.RawQuery != "" {
		return nil, formID, errParamsInQuery
	}
	if !isFormContentType(headerValue(r.Header, "Content-Type")) {
		return nil, formID, oauthError(codeInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	return parseTokenForm(body)
}

// readFormBody is string(io.ReadAll(body)) with one allocation, the string:
// the body is read into a pooled buffer, which is wiped afterwards (a form
// may hold a client secret). io.ReadAll's own buffer was a 512-byte
// allocation on every request.
func readFormBody(body io.Reader) (string, error) {
	bp := bodyBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	var err error
	for {
		if len(b) == cap(b) {
			// Room for the next read, as io.ReadAll makes it; the buffer
			// left behind is wiped, since it may hold a client secret.
			grown := append(b, 0)[:len(b)]
			clear(b)
			b = grown
		}
		var n int
		n, err = body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	s := string(b)
	clear(b)
	if cap(b) <= maxPooledBody {
		*bp = b[:0]
		bodyBuffers.Put(bp)
	}
	return s, err
}

// bodyBuffers are readFormBody's buffers; maxPooledBody bounds what one
// keeps.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledBody = 8 << 10

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

// clientIDParam is the client_id of a form for claimedClientID: set when
// the form could be read and names exactly one.
type clientIDParam struct {
	value string
	ok    bool
}

// parseTokenForm is the pure parser behind readTokenForm (fuzzed). It reads
// the body as url.ParseQuery does, in one pass and without building
// url.Values: parameters are separated by '&', a segment with ';' or a bad
// escape makes the form invalid, empty segments are skipped, names and
// values are unescaped as url.QueryUnescape does (queryUnescape). Too many
// parameters (64 '&' or more) are refused first, an invalid form next,
// then any parameter given more than once (the first of them by name), as
// singleValues reports it. A value sent empty is treated as omitted (RFC 6749 §3.1).
// FuzzParseTokenFormSameAsBefore holds it to url.ParseQuery and
// singleValues.
func parseTokenForm(body string) (p params, formID clientIDParam, err error) {
	if strings.Count(body, "&") >= maxParams {
		// Refused whatever it holds; only a claimed client_id is looked
		// for, by url.ParseQuery itself (with its own cap on parameters).
		if values, qerr := url.ParseQuery(body); qerr == nil && len(values["client_id"]) == 1 {
			formID = clientIDParam{value: values["client_id"][0], ok: true}
		}
		return nil, formID, errTooManyParams
	}
	p = make(params, 8)
	var seen map[string]bool // the names sent empty, which p leaves out
	var repeated []string
	var clientIDs int
	bad := false
	for rest := body; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "&")
		if strings.Contains(seg, ";") {
			bad = true
			continue
		}
		if seg == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(seg, "=")
		key, err1 := queryUnescape(rawKey)
		if err1 != nil {
			bad = true
			continue
		}
		value, err2 := queryUnescape(rawValue)
		if err2 != nil {
			bad = true
			continue
		}
		if key == "client_id" {
			clientIDs++
			formID.value = value
		}
		_, inP := p[key]
		switch {
		case inP || seen[key]:
			if !slices.Contains(repeated, key) {
				repeated = append(repeated, key)
			}
		case value == "":
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[key] = true
		default:
			p[key] = value
		}
	}
	if bad {
		return nil, clientIDParam{}, oauthError(codeInvalidRequest, "the body is not valid form encoding")
	}
	formID.ok = clientIDs == 1
	if !formID.ok {
		formID.value = ""
	}
	if len(repeated) > 0 {
		slices.Sort(repeated)
		return nil, formID, oauthError(codeInvalidRequest, "the parameter "+safeParamName(repeated[0])+" is repeated")
	}
	return p, formID, nil
}

// queryUnescape is url.QueryUnescape, which returns s itself when s holds
// no '%' and no '+', with that case found by two byte searches instead of
// its loop over every byte: most names and values of a form hold neither.
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// headerValue is h.Get(key) for a key given in canonical form: the
// canonical key is looked up as it is, where Get would check and
// canonicalise it again first (~500 instructions a call, callgrind).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// errRepeatedAuthorization answers a request with more than one
// Authorization header, at /token, /revoke, /introspect and /userinfo
// (RFC 9110 §11.6.2 allows one; with several, which one counts would be a
// guess). The bearer middleware says the same in its challenge.
var errRepeatedAuthorization = oauthError(codeInvalidRequest, msgOneAuthorization)

const msgOneAuthorization = "send exactly one Authorization header"

// errTooManyParams answers a form of more than maxParams parameters.
var errTooManyParams = oauthError(codeInvalidRequest, "the request has too many parameters")

// claimedClientID is the client a request says it comes from, found the way
// authenticateClient finds it (the Basic user name, else the form's
// client_id), before anything is authenticated. It is "" when there is no
// single client_id to find; the endpoint then answers the request's problem.
func claimedClientID(r *http.Request, formID clientIDParam) string {
	if headerValue(r.Header, "Authorization") != "" {
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
	return formID.value
}

// authenticateClient identifies the client by client_secret_basic,
// client_secret_post or, for public clients, client_id alone (RFC 6749
// §2.3.1). Using two methods at once is an error. Every failure is the same
// invalid_client, so nothing tells which part was wrong. Failures are
// throttled (clientThrottle): a throttled attempt is refused with 429
// before its secret is looked at.
func (s *Server) authenticateClient(r *http.Request, p params) (*Client, error) {
	id, secret := p["client_id"], p["client_secret"]
	auth := r.Header["Authorization"] // canonical key: no second lookup
	if len(auth) > 1 {
		return nil, errRepeatedAuthorization
	}
	if len(auth) == 1 && auth[0] != "" {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
		uid, upass, ok := basicCredentials(auth[0])
		if !ok {
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
	client, known := s.registered(id)
	addr := s.clientAddr(r)
	ak := addressKey(addr)
	var knownAddr string // the mark of a known address, for a known client only
	if known {
		knownAddr = knownClientAddress(id, ak)
	}
	keys := func() []limitKey { return clientAuthKeys(id, knownAddr, ak) }
	wait, attempt := s.clientThrottle.admitKnown(s.now(), knownAddr, knownAddressPolicy, keys)
	if wait > 0 {
		s.logThrottled(r, s.clientLog, "client authentication throttled", "client_id", truncate(id, 64), "addr", addr)
		return nil, errClientThrottled.withRetryAfter(wait)
	}
	ok := known && checkClient(client, secret)
	if !known {
		// Spend the same work as a real check, so timing does not reveal
		// which client ids exist.
		dummySecretHash.Check(secret)
	}
	now := s.now()
	if !ok {
		attempt.end(now, failed, "", time.Time{})
		return nil, errBadClient
	}
	attempt.end(now, succeeded, knownAddr, now.Add(knownClientAddressTTL))
	return &client.Client, nil
}

// checkClient reports whether secret authenticates client: none for a
// public client, its secret for a confidential one.
func checkClient(client *registered, secret string) bool {
	if client.Public {
		return secret == ""
	}
	return secret != "" && client.secret.Check(secret)
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

// knownClientAddress is the mark of client id at the address whose
// addressKey is ak.
func knownClientAddress(id, ak string) string { return "k:" + id + "|" + ak }

// clientAuthKeys are the throttle keys of an authentication as id from the
// address whose addressKey is ak, unless that address is known for the
// client (throttle.admitKnown); knownAddr is knownClientAddress(id, ak) for
// a known id, "" for an unknown one. An unknown id counts against the
// address only: invented ids must not fill the throttle with buckets of
// their own.
func clientAuthKeys(id, knownAddr, ak string) []limitKey {
	if knownAddr == "" {
		return []limitKey{{"a:" + ak, clientAddressPolicy}}
	}
	return []limitKey{{"c:" + id, clientPolicy}, {"a:" + ak, clientAddressPolicy}}
}

// dummySecretHash is checked against for unknown client ids.
var dummySecretHash, _ = password.ParseClientSecretHash(password.HashClientSecret("keystile-dummy-secret"))
