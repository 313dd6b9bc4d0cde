package keystile

import (
	"errors"
	"net/http"
	"slices"
	"time"
)

// refusal is why a form that asked for a password must be shown again: a
// safe sentence for the user and the status to answer with.
type refusal struct {
	status  int
	message string
}

// checkCredentials is what every form that takes a password does (the
// login form, the /device page): bounds on the fields before any hashing,
// the login throttle (login_throttle.go; docs/security.md §5), and
// ValidateUser, with one message for an unknown user and a wrong password.
// A successful check makes the browser a known device of the account. A
// refusal means "show the form again"; an error is a server failure.
// logAttrs are added to its log lines (the client, for the login form).
func (s *Server) checkCredentials(w http.ResponseWriter, r *http.Request, username, password string, now time.Time, logAttrs ...any) (Identity, *refusal, error) {
	if username == "" || password == "" || len(username) > maxUsernameLen || len(password) > maxPasswordLen {
		return Identity{}, &refusal{http.StatusBadRequest, "Enter your username and password."}, nil
	}
	ctx := r.Context()
	addr := s.clientAddr(r)
	account := accountKey(username)
	device, _ := s.knownDevice(r, account, now)
	endAttempt := func(time.Time, outcome) {}
	if !s.cfg.LoginThrottle.Disabled {
		wait, end, err := s.login.begin(ctx, now, account, device, addr)
		if err != nil {
			return Identity{}, nil, err
		}
		if wait > 0 {
			// Logged so that an operator can see a guessing attack, within a
			// budget so that the attack does not fill the log; the username
			// is not logged, since a mistyped password often lands in it.
			s.logThrottled(r, s.login.log, "sign-in throttled", slices.Concat(logAttrs, []any{"addr", addr, "known_device", device != ""})...)
			setRetryAfter(w, wait)
			return Identity{}, &refusal{http.StatusTooManyRequests, loginThrottledMessage(wait)}, nil
		}
		endAttempt = end
	}
	id, err := s.cfg.ValidateUser(ctx, username, password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		endAttempt(s.now(), failed)
		s.log.InfoContext(ctx, "sign-in refused", slices.Concat(logAttrs, []any{"addr", addr})...)
		return Identity{}, &refusal{http.StatusOK, "That username and password do not match. Check them and try again."}, nil
	case err != nil:
		// A server failure, or a client that went away: neither a failed
		// guess nor proof of the password.
		endAttempt(s.now(), aborted)
		return Identity{}, nil, err
	case id.Subject == "":
		endAttempt(s.now(), aborted)
		return Identity{}, nil, errors.New("ValidateUser returned an empty subject")
	}
	endAttempt(s.now(), succeeded)
	s.setKnownDevice(w, account, device, now)
	return id, nil, nil
}
