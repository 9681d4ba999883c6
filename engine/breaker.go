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

// breaker tracks batches that failed with server errors the engine could
// not pin on their records (an outage, not a toxic input). A failed batch
// waits for its own retry while other batches flow; the breaker opens only
// when failures persist: BreakerThreshold batches in a row, or at least
// half of the last breakerWindow batches with at least breakerMinSamples
// of them. Open, no batch is sent and fetching is paused on every
// partition while the member stays in the group. After a backoff one
// single-record probe batch is let through; its success closes the breaker
// and resumes fetching, its failure opens it again for longer. No state of
// the breaker touches a record's attempt count.
type breaker struct {
	threshold   int
	base, limit time.Duration

	state       breakerState
	consecutive int       // server-failed batches in a row
	opens       int       // opens since the last close, for the backoff
	until       time.Time // open: probe after
	window      [breakerWindow]bool
	n, pos      int // outcomes in window, next slot
	failed      int // failures in window
}

const (
	breakerWindow     = 20
	breakerMinSamples = 10
)

func (b *breaker) record(failed bool) {
	if b.n == breakerWindow {
		if b.window[b.pos] {
			b.failed--
		}
	} else {
		b.n++
	}
	b.window[b.pos] = failed
	if failed {
		b.failed++
	}
	b.pos = (b.pos + 1) % breakerWindow
}

// failure records a server-failed batch at now and returns the new state
// and, when open, the delay before the next probe.
func (b *breaker) failure(now time.Time, retryAfter time.Duration) (breakerState, time.Duration) {
	b.consecutive++
	b.record(true)
	switch {
	case b.state == breakerHalfOpen || (b.state == breakerClosed &&
		(b.consecutive >= b.threshold || (b.n >= breakerMinSamples && 2*b.failed >= b.n))):
		b.state = breakerOpen
		b.opens++
		d := max(backoff(b.base, b.limit, b.opens+1), retryAfter)
		b.until = now.Add(d)
		return b.state, d
	case b.state == breakerOpen:
		// A batch sent before the breaker opened failed late: keep the probe time.
		return b.state, b.until.Sub(now)
	}
	return b.state, 0
}

// success records a batch that reached the server and returns whether the
// breaker closed because of it.
func (b *breaker) success() bool {
	b.consecutive = 0
	b.record(false)
	if b.state == breakerClosed {
		return false
	}
	b.state, b.opens = breakerClosed, 0
	b.until = time.Time{}
	b.n, b.pos, b.failed = 0, 0, 0
	return true
}

// limiter adapts the number of batches in flight to the server: additive
// increase while batch latency holds near the best seen, multiplicative
// decrease when it climbs past twice that or the server pushes back (429,
// 503, Retry-After). A 500, a reset or a timeout is a failure of that
// request and leaves the limit alone. It stays within [min, max].
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
