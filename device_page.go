package keystile

import (
	"errors"
	"net/http"
	"time"

	"github.com/keystile/keystile/store"
)

// deviceView is the /device page: entering a user code, confirming the
// device it belongs to, or the outcome. Every field is escaped by
// html/template.
type deviceView struct {
	CSRFToken  string
	UserCode   string // as the user typed it, or canonical once confirmed
	Subject    string // who is signed in; "" shows the username and password fields
	Username   string // kept on retry
	Error      string
	ClientName string // set once the code is found: the confirmation step
	Scopes     []string
	Resources  []string // the APIs (RFC 8707) the device's tokens are for
	Done       bool
	Approved   bool
}

type devicePage struct {
	deviceView
	Product, Title, LogoURL string
	ScopeLines              []scopeLine
}

func (s *Server) renderDevice(w http.ResponseWriter, status int, v deviceView) {
	ps := s.pages
	s.renderPage(w, status, ps.device, devicePage{deviceView: v, Product: s.productName(), Title: "Connect a device", LogoURL: ps.logoURL, ScopeLines: scopeLines(v.Scopes)})
}

// handleDevicePage serves GET and POST /device (RFC 8628 §3.3), where a
// signed-in user enters the code a device shows, sees which client asks for
// what, and approves or denies it. A user without a session signs in on the
// same form; the browser's session (session.go) carries them from one step
// to the next. Wrong codes count against the user and the address
// (Server.devices): a user code is short, so guesses must be throttled
// (RFC 8628 §5.1).
func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	browser := s.browserID(w, r)
	// The form's token comes from the browser-binding cookie; the POST is
	// also same-origin only (sameOriginForm).
	v := deviceView{CSRFToken: cookieCSRF(deviceForm, browser)}
	sess, _, signedIn, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, serverError(err))
		return
	}
	if signedIn {
		v.Subject = sess.Subject
	} else if s.signIn != nil { // keystile dev: its chosen user, no password
		id, err := s.devIdentity(r.Context())
		if err != nil {
			s.errorPage(w, r, serverError(err))
			return
		}
		sess, signedIn, v.Subject = store.Session{Subject: id.Subject, Claims: id.Claims, AuthTime: s.now()}, true, id.Subject
	}
	if r.Method != http.MethodPost {
		if typed := r.URL.Query().Get("user_code"); len(typed) <= maxUserCodeInput {
			v.UserCode = typed
		}
		s.renderDevice(w, http.StatusOK, v)
		return
	}
	p, ok := s.readPageForm(w, r)
	if !ok {
		return
	}
	if !postedCSRF(p, deviceForm, browser) {
		s.errorPage(w, r, oauthError(codeAccessDenied, "This form was not opened in this browser. Open the device page again.").withStatus(http.StatusForbidden))
		return
	}
	if len(p["user_code"]) <= maxUserCodeInput {
		v.UserCode = p["user_code"]
	}
	now := s.now()
	id, authTime := Identity{Subject: sess.Subject, Claims: sess.Claims}, sess.AuthTime
	if !signedIn {
		var status int
		if id, status = s.deviceSignIn(w, r, p, &v, now); status != 0 {
			s.renderDevice(w, status, v)
			return
		}
		authTime, v.Subject = now, id.Subject
	} else if id, err = s.currentIdentity(r.Context(), sess.Subject, sess.Claims); err != nil {
		s.errorPage(w, r, serverError(err))
		return
	}
	s.deviceStep(w, r, p, v, id, authTime, now)
}

// deviceStep looks the code up (throttled) and, when the form carries the
// user's decision, records it.
func (s *Server) deviceStep(w http.ResponseWriter, r *http.Request, p params, v deviceView, id Identity, authTime, now time.Time) {
	ctx := r.Context()
	addr := s.clientAddr(r)
	endAttempt := func(time.Time, outcome) {}
	if !s.cfg.LoginThrottle.Disabled {
		wait, end := s.devices.begin(now, limitKey{"u:" + id.Subject, userCodePolicy}, limitKey{"g:" + addressKey(addr), userCodeAddressPolicy})
		if wait > 0 {
			s.logThrottled(r, s.login.log, "device code guesses throttled", "sub", id.Subject, "addr", addr)
			setRetryAfter(w, wait)
			v.Error = "Too many wrong codes. Try again in " + humanDuration(wait) + "."
			s.renderDevice(w, http.StatusTooManyRequests, v)
			return
		}
		endAttempt = end
	}
	code, ok := normalizeUserCode(p["user_code"])
	var d store.DeviceCode
	var err error
	if ok {
		d, err = s.store.PendingDeviceCode(ctx, hashSecret(code), now)
	}
	found := ok && err == nil
	switch {
	case found:
		endAttempt(now, succeeded)
	case err == nil || errors.Is(err, store.ErrNotFound):
		endAttempt(now, failed)
	default:
		endAttempt(now, aborted)
	}
	client, known := s.client(d.ClientID)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.errorPage(w, r, serverError(err))
		return
	case !found || !known:
		v.Error = "That code is not valid or has expired. Check the code your device shows."
		s.renderDevice(w, http.StatusOK, v)
		return
	}
	v.UserCode, v.ClientName, v.Scopes, v.Resources = code[:4]+"-"+code[4:], client.Name, d.Scope, d.Resources
	decision := p["decision"]
	if decision != "approve" && decision != "deny" {
		s.renderDevice(w, http.StatusOK, v)
		return
	}
	dec := store.DeviceDecision{Status: store.DeviceDenied}
	if decision == "approve" {
		dec = store.DeviceDecision{Status: store.DeviceApproved, Subject: id.Subject, Claims: id.Claims, AuthTime: authTime}
	}
	err = s.store.DecideDeviceCode(ctx, hashSecret(code), dec, now)
	switch {
	case errors.Is(err, store.ErrNotFound): // decided meanwhile, or expired
		v.ClientName, v.Error = "", "That code is not valid or has expired. Check the code your device shows."
		s.renderDevice(w, http.StatusOK, v)
		return
	case err != nil:
		s.errorPage(w, r, serverError(err))
		return
	}
	s.log.InfoContext(ctx, "device authorization decided", "client_id", client.ID, "sub", id.Subject, "approved", dec.Status == store.DeviceApproved)
	v.Done, v.Approved = true, dec.Status == store.DeviceApproved
	s.renderDevice(w, http.StatusOK, v)
}

// deviceSignIn checks the form's username and password as the login form
// does (checkCredentials) and starts a session. A non-zero status means the
// page was not signed in: v says why.
func (s *Server) deviceSignIn(w http.ResponseWriter, r *http.Request, p params, v *deviceView, now time.Time) (Identity, int) {
	v.Username = p["username"]
	id, refused, err := s.checkCredentials(w, r, p["username"], p["password"], now, "page", "device")
	if refused != nil {
		v.Error = refused.message
		return Identity{}, refused.status
	}
	if err == nil {
		_, err = s.startSession(w, r, id, now)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "device page sign-in failed", "err", err)
		v.Error = "Something went wrong. Please try again in a few minutes."
		return Identity{}, http.StatusInternalServerError
	}
	return id, 0
}
