package keystile

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keystile/keystile/internal/check"
	"github.com/keystile/keystile/password"
)

// Grant types a client may use.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Client is a registered OAuth client.
type Client struct {
	// ID is the client_id.
	ID string
	// Name is shown on the login page; defaults to ID.
	Name string
	// Public clients (SPAs, native apps) have no secret; they still need PKCE.
	Public bool
	// SecretHash is the stored form of a confidential client's secret:
	// "sha256:<hex>" (see password.NewClientSecret and HashClientSecret).
	// A slow hash (argon2id) is refused: see password.ValidateSecretHash.
	SecretHash string
	// RedirectURIs are compared by exact string match. A loopback IP literal
	// (http://127.0.0.1/… or http://[::1]/…) may vary its port (RFC 8252 §7.3).
	RedirectURIs []string
	// AllowedOrigins are the browser origins allowed to call the token
	// endpoint cross-origin.
	AllowedOrigins []string
	// Scopes the client may request; empty means only the empty scope.
	Scopes []string
	// GrantTypes the client may use; default [authorization_code,
	// refresh_token]. GrantDeviceCode enables the device flow.
	GrantTypes []string
	// Claims are added to tokens issued to the client through client
	// credentials.
	Claims map[string]any
	// Resources are the IDs of the Config.Resources the client may get
	// access tokens for (RFC 8707). A client with exactly one may leave the
	// resource parameter out.
	Resources []string
	// PostLogoutRedirectURIs are where /logout may send the browser back to
	// (exact string match); anything else shows the signed-out page.
	PostLogoutRedirectURIs []string
}

// ValidateClient checks a client registration the way New does, so that a
// config loader can report a bad client before starting anything. It refuses
// what docs/security.md §1 names: dangerous schemes, plain http off loopback,
// fragments and userinfo in redirect URIs, and public clients with secrets.
func ValidateClient(c Client) error {
	if c.ID == "" || len(c.ID) > 200 || !printableASCII(c.ID) {
		return fmt.Errorf("client id %q must be 1 to 200 printable ASCII characters", c.ID)
	}
	if c.Public && c.SecretHash != "" {
		return fmt.Errorf("client %q: a public client has no secret_hash", c.ID)
	}
	if !c.Public {
		if c.SecretHash == "" {
			return fmt.Errorf("client %q: a confidential client needs a secret_hash (or public: true)", c.ID)
		}
		if err := password.ValidateSecretHash(c.SecretHash); err != nil {
			return fmt.Errorf("client %q: secret_hash: %w", c.ID, err)
		}
	}
	grants := c.GrantTypes
	if len(grants) == 0 {
		grants = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	for _, g := range grants {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode:
		case GrantClientCredentials:
			if c.Public {
				return fmt.Errorf("client %q: a public client cannot use client_credentials", c.ID)
			}
		default:
			return fmt.Errorf("client %q: unknown grant type %q", c.ID, g)
		}
	}
	if slices.Contains(grants, GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return fmt.Errorf("client %q: authorization_code needs at least one redirect URI", c.ID)
	}
	for _, u := range c.RedirectURIs {
		if err := validRedirectURI(u); err != nil {
			return fmt.Errorf("client %q: redirect URI %q: %w", c.ID, u, err)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := validRedirectURI(u); err != nil {
			return fmt.Errorf("client %q: post-logout redirect URI %q: %w", c.ID, u, err)
		}
	}
	for _, o := range c.AllowedOrigins {
		if err := validOrigin(o); err != nil {
			return fmt.Errorf("client %q: allowed origin %q: %w", c.ID, o, err)
		}
	}
	for _, r := range c.Resources {
		if err := parseResourceIndicator(r); err != nil {
			return fmt.Errorf("client %q: resource %q %w", c.ID, r, err)
		}
	}
	for _, s := range c.Scopes {
		if !validScopeToken(s) {
			return fmt.Errorf("client %q: scope %q is not a valid scope token (RFC 6749 §3.3)", c.ID, s)
		}
	}
	return nil
}

// validRedirectURI accepts https URIs, http URIs on a loopback host, and
// private-use schemes of native apps in reverse-domain form (RFC 8252 §7.1).
func validRedirectURI(raw string) error {
	if len(raw) > 2000 || !printableASCII(raw) {
		return errors.New("must be at most 2000 printable ASCII characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URI")
	}
	if !u.IsAbs() {
		return errors.New("must be absolute")
	}
	if strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment (RFC 6749 §3.1.2)")
	}
	if u.User != nil {
		return errors.New("must not contain userinfo")
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return errors.New("needs a host")
		}
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return errors.New("plain http is allowed only on loopback (127.0.0.1, [::1], localhost)")
		}
	case "javascript", "data", "vbscript", "file", "blob", "about", "ftp", "ws", "wss":
		return fmt.Errorf("scheme %q is not allowed", scheme)
	default:
		if !strings.Contains(scheme, ".") {
			return fmt.Errorf("scheme %q: a native app's private-use scheme must be in reverse-domain form, like com.example.app", scheme)
		}
	}
	return nil
}

func validOrigin(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(raw, "/") {
		return errors.New("must be scheme://host[:port] with nothing after it")
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return errors.New("plain http is allowed only on loopback")
	}
	return nil
}

// matchRedirectURI reports whether uri is registered for the client: by exact
// string comparison, with no normalisation of any kind (docs/security.md §1). The
// one exception is RFC 8252 §7.3: a registered http URI on a loopback IP
// literal matches the same URI with any port, because a native app listens
// on whatever port the OS gives it.
func (c *Client) matchRedirectURI(uri string) bool {
	for _, reg := range c.RedirectURIs {
		if uri == reg || matchLoopbackAnyPort(reg, uri) {
			return true
		}
	}
	return false
}

func matchLoopbackAnyPort(registered, uri string) bool {
	reg, err := url.Parse(registered)
	if err != nil || reg.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(reg.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	got, err := url.Parse(uri)
	if err != nil || got.Scheme != "http" || got.Hostname() != reg.Hostname() {
		return false
	}
	// A port of canonical ASCII digits from 1 to 65535: no "0", "080" or
	// "99999", which name no port a native app could be listening on.
	port := got.Port()
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return false
	}
	// Rebuild the registered URI with the request's port and compare strings,
	// so that everything but the port must still match to the letter.
	rest := strings.TrimPrefix(registered, "http://"+reg.Host)
	want := "http://" + net.JoinHostPort(reg.Hostname(), port) + rest
	return uri == want
}

// parseScope splits a scope parameter (RFC 6749 §3.3) and checks every token
// against the client's list. Repeated tokens are folded; order is kept.
func (c *Client) parseScope(raw string) ([]string, *oauthErr) {
	if raw == "" {
		return nil, nil
	}
	if len(raw) > 2000 {
		return nil, oauthError(codeInvalidScope, "the scope parameter is too long")
	}
	var out []string
	for _, s := range strings.Split(raw, " ") {
		if s == "" {
			continue
		}
		if !validScopeToken(s) {
			return nil, oauthError(codeInvalidScope, "the scope parameter is malformed")
		}
		if !slices.Contains(c.Scopes, s) {
			return nil, oauthError(codeInvalidScope, "the client may not request this scope")
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *Client) allowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// getsRefreshTokens reports whether a grant of scope to this client comes
// with a refresh token: the client must be allowed the refresh_token grant,
// and a client that lists offline_access among its scopes gets refresh tokens
// only when it asks for offline_access (OIDC Core §11).
func (c *Client) getsRefreshTokens(scope []string) bool {
	if !c.allowsGrant(GrantRefreshToken) {
		return false
	}
	return !slices.Contains(c.Scopes, "offline_access") || slices.Contains(scope, "offline_access")
}

// validScopeToken: 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isLoopbackHost is check.LoopbackHost, the rule the binary applies too.
func isLoopbackHost(h string) bool { return check.LoopbackHost(h) }
