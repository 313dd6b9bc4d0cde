package keystiletest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
)

// validateUser is the server's user directory: the kit's users, each with
// their password.
func (idp *IdP) validateUser(_ context.Context, username, password string) (keystile.Identity, error) {
	u, ok := idp.users[username]
	if !ok || subtle.ConstantTimeCompare([]byte(password), []byte(u.password())) != 1 {
		return keystile.Identity{}, keystile.ErrInvalidCredentials
	}
	return keystile.Identity{Subject: u.Username, Claims: u.Claims}, nil
}

// SignIn signs username in as a person would, and returns the tokens the
// application gets: it starts the authorization code flow with PKCE
// (S256) from cfg, fills in and posts the server's real login form with
// the user's password in a fresh cookie-keeping client, stops at the
// redirect back to cfg.RedirectURL, checks the state and exchanges the
// code with cfg. An empty cfg.Endpoint means this server's (Endpoint); an
// empty cfg.ClientID means ClientID, and an empty cfg.RedirectURL means
// RedirectURL. Use cfg.TokenSource(ctx, tok) to refresh.
//
// The error says where the flow stopped: an unknown user or a wrong
// password, or an error the server sent back to the redirect URI (a
// scope the client may not ask for, an unregistered redirect URI).
func (idp *IdP) SignIn(ctx context.Context, cfg *oauth2.Config, username string) (*oauth2.Token, error) {
	c := *cfg
	if c.Endpoint.AuthURL == "" {
		c.Endpoint = idp.Endpoint()
	}
	if c.ClientID == "" {
		c.ClientID = ClientID
	}
	if c.RedirectURL == "" {
		c.RedirectURL = RedirectURL
	}
	u, ok := idp.users[username]
	if !ok {
		return nil, fmt.Errorf("keystiletest: no user %q (add one with WithUser)", username)
	}
	verifier, state := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	browser := newBrowser(c.RedirectURL)
	resp, err := browser.get(ctx, c.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	if resp.location == "" {
		form, ok := testutil.ParseForm(resp.body)
		if !ok {
			return nil, fmt.Errorf("keystiletest: /authorize showed no login form (status %d)", resp.status)
		}
		action, err := resp.url.Parse(form.Action)
		if err != nil {
			return nil, fmt.Errorf("keystiletest: the login form's action: %w", err)
		}
		fields := form.Hidden
		fields.Set("username", username)
		fields.Set("password", u.password())
		if resp, err = browser.post(ctx, action.String(), idp.Issuer(), fields); err != nil {
			return nil, err
		}
		if resp.location == "" {
			return nil, fmt.Errorf("keystiletest: the login form refused %q (status %d)", username, resp.status)
		}
	}
	back, err := url.Parse(resp.location)
	if err != nil {
		return nil, fmt.Errorf("keystiletest: the redirect back: %w", err)
	}
	q := back.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("keystiletest: the server answered %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return nil, errors.New("keystiletest: the redirect back carries the wrong state")
	}
	return c.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
}

// browser is a cookie-keeping HTTP client that stops at the redirect to the
// application, the way a browser's address bar would show it.
type browser struct {
	client      *http.Client
	redirectURL string
}

type page struct {
	url      *url.URL
	status   int
	body     string
	location string // the redirect back to the application, if any
}

func newBrowser(redirectURL string) *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	b := &browser{redirectURL: redirectURL}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if b.isApp(req.URL) || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// isApp reports whether u is the application's redirect URI, on any port.
func (b *browser) isApp(u *url.URL) bool {
	want, err := url.Parse(b.redirectURL)
	return err == nil && u.Scheme == want.Scheme && u.Hostname() == want.Hostname() && u.Path == want.Path
}

func (b *browser) get(ctx context.Context, target string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return page{}, err
	}
	return b.do(req)
}

// post submits a form as the server's own page does: same origin.
func (b *browser) post(ctx context.Context, target, origin string, form url.Values) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *browser) do(req *http.Request) (page, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return page{}, fmt.Errorf("keystiletest: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return page{}, fmt.Errorf("keystiletest: %w", err)
	}
	p := page{url: resp.Request.URL, status: resp.StatusCode, body: string(body)}
	if loc, err := resp.Location(); err == nil && b.isApp(loc) {
		p.location = loc.String()
	}
	return p, nil
}
