package keystile

import (
	"errors"
	"net/http"
	"strconv"
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
// the throttle per username and client address (docs/security.md §5), and
// ValidateUser, with one message for an unknown user and a wrong password.
// A refusal means "show the form again"; an error is a server failure.
// logAttrs are added to its log lines (the client, for the login form).
func (s *Server) checkCredentials(w http.ResponseWriter, r *http.Request, username, password string, now time.Time, logAttrs ...any) (Identity, *refusal, error) {
	if username == "" || password == "" || len(username) > maxUsernameLen || len(password) > maxPasswordLen {
		return Identity{}, &refusal{http.StatusBadRequest, "Enter your username and password."}, nil
	}
	ctx := r.Context()
	addr := s.clientAddr(r)
	allowed, endAttempt := s.limiter.begin(username, addr, now)
	if !allowed {
		// Logged so that an operator can see a guessing attack; the username
		// is not logged, since a mistyped password often lands in it.
		s.log.WarnContext(ctx, "sign-in throttled", append(logAttrs, "addr", addr)...)
		w.Header().Set("Retry-After", strconv.Itoa(s.limiter.retryAfter()))
		return Identity{}, &refusal{http.StatusTooManyRequests, "Too many sign-in attempts. Wait a minute, then try again."}, nil
	}
	id, err := s.cfg.ValidateUser(ctx, username, password)
	endAttempt(errors.Is(err, ErrInvalidCredentials))
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		s.log.InfoContext(ctx, "sign-in refused", append(logAttrs, "addr", addr)...)
		return Identity{}, &refusal{http.StatusOK, "That username and password do not match. Check them and try again."}, nil
	case err != nil:
		return Identity{}, nil, err
	case id.Subject == "":
		return Identity{}, nil, errors.New("ValidateUser returned an empty subject")
	}
	return id, nil, nil
}
