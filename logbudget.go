package keystile

import (
	"sync"
	"time"

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
