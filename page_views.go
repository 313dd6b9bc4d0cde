package keystile

import (
	"net/http"
)

// logoutView is the sign-out confirmation: a form that posts back what the
// client sent, so that the POST can redirect where the GET was asked to.
type logoutView struct {
	ClientName, Subject, CSRFToken                      string
	ClientID, PostLogoutRedirectURI, State, IDTokenHint string
}

type logoutPage struct {
	logoutView
	Product, Title, LogoURL string
}

type signedOutPage struct {
	Product, Title, LogoURL string
}

// renderLogout writes the sign-out confirmation page.
func (s *Server) renderLogout(w http.ResponseWriter, v logoutView) {
	p := s.pages
	s.renderPage(w, http.StatusOK, p.logout, logoutPage{logoutView: v, Product: s.productName(), Title: "Sign out", LogoURL: p.logoURL})
}

// renderSignedOut writes the page shown after sign-out when there is no
// registered place to send the browser back to.
func (s *Server) renderSignedOut(w http.ResponseWriter) {
	p := s.pages
	s.renderPage(w, http.StatusOK, p.signedOut, signedOutPage{Product: s.productName(), Title: "Signed out", LogoURL: p.logoURL})
}

// loginView is what the authorize and login handlers know about the login
// form. Every field is request data or derived from it, and is escaped by
// html/template.
type loginView struct {
	ClientName string   // the client's display name
	RequestID  string   // the pending authorization request, sealed, posted back
	CSRFToken  string   // posted back; checked against the pending request
	Username   string   // kept on retry
	Error      string   // a safe sentence for the user, or ""
	Scopes     []string // requested scope values, shown in plain words
	Resources  []string // the APIs (RFC 8707) the tokens are for, if named
}

// errorView is an error page. Code is the OAuth error code (RFC 6749
// §4.1.2.1), shown small; Message is a safe sentence for the user. Title is
// the heading; when empty, renderError picks one by Code.
type errorView struct {
	Code    string
	Message string
	Title   string
}

// loginPage and errorPage are the template data: the view plus what the
// layout needs.
type loginPage struct {
	loginView
	Product       string
	Title         string
	LogoURL       string
	ScopeLines    []scopeLine
	FocusPassword bool
}

type errorPage struct {
	errorView
	Product string
	LogoURL string
	Hint    string
}

// scopeLine is one requested scope: a sentence when the scope is a standard
// one, otherwise the raw value, shown as code.
type scopeLine struct {
	Text  string
	Scope string
}

// scopeWords describes the standard OIDC scopes (OIDC Core §5.4, §11) in
// the words a user would use.
var scopeWords = map[string]string{
	"openid":         "Confirm who you are",
	"profile":        "See your basic profile, such as your name",
	"email":          "See your email address",
	"phone":          "See your phone number",
	"address":        "See your postal address",
	"offline_access": "Stay signed in while you are away",
}

func scopeLines(scopes []string) []scopeLine {
	lines := make([]scopeLine, 0, len(scopes))
	seen := make(map[string]bool, len(scopes))
	for _, sc := range scopes {
		if sc == "" || seen[sc] {
			continue
		}
		seen[sc] = true
		if text, ok := scopeWords[sc]; ok {
			lines = append(lines, scopeLine{Text: text})
		} else {
			lines = append(lines, scopeLine{Text: "Use the permission", Scope: sc})
		}
	}
	return lines
}

// Titles of the error page, by what went wrong from the user's point of view.
const (
	titleInvalidLink = "This sign-in link is not valid"
	titleCannotGoOn  = "We can't continue this sign-in"
	titleExpired     = "This sign-in page has expired"
	titleServer      = "Something went wrong"
)

// defaultErrorTitle is the heading of an error page whose error names none.
// An error whose code says too little (an unknown application and a
// malformed link are both invalid_request) carries its own title.
func defaultErrorTitle(code string) string {
	switch code {
	case codeServerError:
		return titleServer
	case codeInvalidRequest:
		return titleInvalidLink
	default:
		return titleCannotGoOn
	}
}

// renderLogin writes the login form with the given status.
func (s *Server) renderLogin(w http.ResponseWriter, status int, v loginView) {
	ps := s.pages
	p := loginPage{
		loginView:  v,
		Product:    s.productName(),
		Title:      "Sign in",
		LogoURL:    ps.logoURL,
		ScopeLines: scopeLines(v.Scopes),
		// On a retry the username is already there: the password is what
		// the user has to type again.
		FocusPassword: v.Error != "" && v.Username != "",
	}
	s.renderPage(w, status, ps.login, p)
}

// renderError writes an error page with the given status. It shows the
// message and the code, never a cause: errorView carries none.
func (s *Server) renderError(w http.ResponseWriter, status int, v errorView) {
	if v.Title == "" {
		v.Title = defaultErrorTitle(v.Code)
	}
	ps := s.pages
	p := errorPage{errorView: v, Product: s.productName(), LogoURL: ps.logoURL}
	if v.Message == "" {
		p.Message = "The sign-in could not be completed."
	}
	if v.Code == codeServerError {
		p.Hint = "Please try again in a few minutes. If it keeps happening, contact the application's support."
	} else {
		p.Hint = "Go back to the application you came from and start signing in again."
	}
	s.renderPage(w, status, ps.errorPage, p)
}

func (s *Server) productName() string {
	if s.cfg.Branding.ProductName != "" {
		return s.cfg.Branding.ProductName
	}
	return "Keystile"
}
