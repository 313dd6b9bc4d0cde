package keystile

import (
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// logBudget bounds the log lines that a flood of one kind of event writes:
// burst lines at once, then one per interval. A line written after some
// were held back reports how many, so that nothing is silently lost and an
// attacker's request rate does not become the log's write rate.
type logBudget struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	suppressed int
}

func newLogBudget(interval time.Duration, burst int) *logBudget {
	return &logBudget{lim: rate.NewLimiter(rate.Every(interval), burst)}
}

// take reports whether a line may be written at now and, if so, how many
// were held back since the last one.
func (b *logBudget) take(now time.Time) (ok bool, suppressed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.lim.AllowN(now, 1) {
		b.suppressed++
		return false, 0
	}
	n := b.suppressed
	b.suppressed = 0
	return true, n
}

// Throttled attempts are logged within a budget: throttleLogBurst lines at
// once, then one every throttleLogEvery, so that a flood against the login
// form or /token writes a bounded number of lines, not one per attempt.
const (
	throttleLogBurst = 10
	throttleLogEvery = 10 * time.Second
)

// logThrottled logs msg at warn if b allows a line now, with the number of
// lines b held back since the last one.
func (s *Server) logThrottled(r *http.Request, b *logBudget, msg string, args ...any) {
	ok, held := b.take(s.now())
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	s.log.WarnContext(r.Context(), msg, args...)
}

// truncate cuts s to at most n bytes, on a rune boundary, for logging a
// value a client chose.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
