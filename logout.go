package keystile

import (
	"net/http"
	"net/url"
	"slices"
)

// handleLogout serves /logout: RP-initiated logout (OIDC RP-Initiated Logout
// 1.0) and a plain "sign out" link. A GET never signs anyone out, since any
// page could embed it: it shows a confirmation form whose POST carries a CSRF
// token bound to the session cookie. The POST ends the session, revokes the
// refresh tokens issued in it, and sends the browser to the client's
// post_logout_redirect_uri only if it is registered for that client (exact
// match); otherwise it shows the signed-out page.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	values, err := authorizeValues(r)
	if err != nil {
		s.errorPage(w, r, oauthError(codeInvalidRequest, "The request could not be read."))
		return
	}
	p, _, perr := singleValues(values)
	if perr != nil {
		s.errorPage(w, r, perr)
		return
	}
	// state is echoed into the page and the redirect, the hint into the page:
	// bound them as /authorize bounds state.
	if len(p["state"]) > maxStateLen || len(p["id_token_hint"]) > maxTokenLen {
		s.errorPage(w, r, oauthError(codeInvalidRequest, "The sign-out link is too long."))
		return
	}
	sess, cookie, signedIn, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, serverError(err))
		return
	}
	signedInAs := ""
	if signedIn {
		signedInAs = sess.Subject
	}
	client, returnTo, e := s.logoutTarget(r, p, signedInAs)
	if e != nil {
		s.errorPage(w, r, e)
		return
	}
	if !signedIn {
		s.clearSessionCookie(w)
		s.afterLogout(w, r, returnTo, p["state"])
		return
	}
	if r.Method != http.MethodPost || p["csrf_token"] == "" {
		v := logoutView{
			Subject:               displayName(sess.Subject, sess.Claims),
			CSRFToken:             cookieCSRF(logoutForm, cookie),
			PostLogoutRedirectURI: returnTo,
			State:                 p["state"],
			IDTokenHint:           p["id_token_hint"],
		}
		if client != nil {
			v.ClientID, v.ClientName = client.ID, client.Name
		}
		s.renderLogout(w, v)
		return
	}
	if !postedCSRF(p, logoutForm, cookie) {
		s.errorPage(w, r, oauthError(codeAccessDenied, "This sign-out form is out of date. Reload the page and try again.").withStatus(http.StatusForbidden))
		return
	}
	if err := s.store.EndSession(r.Context(), hashSecret(cookie), true); err != nil {
		s.errorPage(w, r, serverError(err))
		return
	}
	s.clearSessionCookie(w)
	s.log.InfoContext(r.Context(), "signed out", "sub", sess.Subject)
	s.afterLogout(w, r, returnTo, p["state"])
}

// logoutTarget finds the client of a logout request and checks
// post_logout_redirect_uri against that client's list (exact match). The
// client is named by client_id, or by the aud of id_token_hint (OIDC
// RP-Initiated Logout 1.0 §2), which must then be one of this server's ID
// tokens — expired is fine, forged or another issuer's is not — and, when
// both are sent, name the same client. Without a client there is nothing to
// check a redirect URI against, so it is refused. Every error is for an
// error page: nothing is redirected.
//
// A hint whose sub is not signedInAs, the user signed in in this browser
// (when one is), is treated as no hint (OIDC RP-Initiated Logout 1.0 §2:
// the OP should not take it as this user's request), and is deleted from p
// so that the confirmation form does not carry it either.
func (s *Server) logoutTarget(r *http.Request, p params, signedInAs string) (*Client, string, *oauthErr) {
	var client *Client
	if id := p["client_id"]; id != "" {
		c, ok := s.client(id)
		if !ok {
			return nil, "", oauthError(codeInvalidRequest, "The application that sent you here is not registered with this sign-in service.").withTitle(titleCannotGoOn)
		}
		client = c
	}
	if hint := p["id_token_hint"]; hint != "" {
		hinted, sub, err := s.verifyIDTokenHint(hint)
		if err != nil {
			s.log.DebugContext(r.Context(), "id_token_hint refused", "error", err)
			return nil, "", oauthError(codeInvalidRequest, "The sign-out link carries a sign-in token that this service cannot vouch for, so it was not followed.")
		}
		switch {
		case signedInAs != "" && sub != signedInAs:
			s.log.DebugContext(r.Context(), "id_token_hint of another user ignored")
			delete(p, "id_token_hint")
		case client != nil && client != hinted:
			return nil, "", oauthError(codeInvalidRequest, "The sign-out link names one application but carries the sign-in token of another, so it was not followed.")
		default:
			client = hinted
		}
	}
	uri := p["post_logout_redirect_uri"]
	if uri == "" {
		return client, "", nil
	}
	if client == nil || !slices.Contains(client.PostLogoutRedirectURIs, uri) {
		return nil, "", oauthError(codeInvalidRequest, "The sign-out link asks to return to an address that is not registered for this application.").withTitle(titleCannotGoOn)
	}
	return client, uri, nil
}

func (s *Server) afterLogout(w http.ResponseWriter, r *http.Request, returnTo, state string) {
	if returnTo == "" {
		s.renderSignedOut(w)
		return
	}
	u, err := url.Parse(returnTo)
	if err != nil {
		s.renderSignedOut(w)
		return
	}
	if state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// displayName is how the sign-out page names the user: a name they would
// recognise when the claims carry one (OIDC Core §5.1), else the subject,
// which may be an opaque identifier.
func displayName(subject string, claims map[string]any) string {
	for _, c := range []string{"preferred_username", "name", "email"} {
		if v, ok := claims[c].(string); ok && v != "" {
			return v
		}
	}
	return subject
}
