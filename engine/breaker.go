package engine

import (
	"math"
	"time"
)

// breakerState is the state of the engine's circuit breaker.
type breakerState int

const (
	breakerClosed   breakerState = iota // batches flow
	breakerOpen                         // nothing is sent; fetching is paused
	breakerHalfOpen                     // one small probe batch is in flight
)

func (s breakerState) String() string {
	switch s {
	case breakerOpen:
		return "open"
	case breakerHalfOpen:
		return "half-open"
	default:
		return "closed"
	}
}

// breaker tracks server errors. A few in a row only delay the next
// dispatch (retry with backoff); when they persist — BreakerThreshold
// consecutive failed batches — it opens: no batch is sent and fetching is
// paused on every partition while the member stays in the group. After a
// backoff one single-record probe batch is let through; its success closes
// the breaker and resumes fetching, its failure opens it again for longer.
// No state of the breaker touches a record's attempt count.
type breaker struct {
	threshold   int
	base, limit time.Duration

	state       breakerState
	consecutive int       // server-failed batches in a row
	opens       int       // opens since the last close, for the backoff
	until       time.Time // closed: no dispatch before; open: probe after
}

// failure records a server-failed batch at now and returns the new state
// and the delay before the next dispatch or probe.
func (b *breaker) failure(now time.Time, retryAfter time.Duration) (breakerState, time.Duration) {
	b.consecutive++
	var d time.Duration
	switch {
	case b.state == breakerHalfOpen || (b.state == breakerClosed && b.consecutive >= b.threshold):
		b.state = breakerOpen
		b.opens++
		d = backoff(b.base, b.limit, b.opens+1)
	case b.state == breakerOpen:
		// A batch sent before the breaker opened failed late: keep the probe time.
		return b.state, time.Until(b.until)
	default:
		d = backoff(b.base, b.limit, b.consecutive)
	}
	d = max(d, retryAfter)
	if until := now.Add(d); until.After(b.until) {
		b.until = until
	}
	return b.state, b.until.Sub(now)
}

// success records a batch that reached the server and returns whether the
// breaker closed because of it.
func (b *breaker) success() bool {
	b.consecutive = 0
	if b.state == breakerClosed {
		return false
	}
	b.state, b.opens = breakerClosed, 0
	b.until = time.Time{}
	return true
}

// limiter adapts the number of batches in flight to the server: additive
// increase while batch latency holds near the best seen, multiplicative
// decrease when it climbs past twice that or the server pushes back
// (429, 503, timeouts). It stays within [min, max].
type limiter struct {
	min, max int
	limit    float64
	ewma     float64 // smoothed latency of full-size batches, seconds
	best     float64 // lowest ewma seen, drifting up slowly
}

func newLimiter(minimum, maximum int) *limiter {
	return &limiter{min: minimum, max: maximum, limit: float64(max(minimum, min(maximum, 4)))}
}

func (l *limiter) current() int { return int(math.Floor(l.limit)) }

// observe records a successful batch; full says whether the batch was big
// enough for its latency to be compared with others.
func (l *limiter) observe(took time.Duration, full bool) {
	if full {
		s := took.Seconds()
		if l.ewma == 0 {
			l.ewma = s
		} else {
			l.ewma += (s - l.ewma) * 0.2
		}
		if l.best == 0 || l.ewma < l.best {
			l.best = l.ewma
		} else {
			l.best += (l.ewma - l.best) * 0.01 // the server's best may change
		}
		if l.ewma > 2*l.best {
			l.decrease(0.8)
			return
		}
	}
	l.limit = min(float64(l.max), l.limit+1/l.limit)
}

// overload records server push-back.
func (l *limiter) overload() { l.decrease(0.5) }

func (l *limiter) decrease(f float64) {
	l.limit = max(float64(l.min), l.limit*f)
}
