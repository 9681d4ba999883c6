package embed

import (
	"errors"
	"fmt"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// This file holds the batch limits a Pool learns for each endpoint from
// its batch errors (413, out of memory).

// Defaults of PoolConfig's learned batch limits.
const (
	// DefaultBatchProbeAfter is how many requests at the learned limit
	// succeed before the Pool tries a larger one.
	DefaultBatchProbeAfter = 256
	// DefaultBatchLimitMemory is how long a size that failed stays known
	// as too big: the Pool never probes at or above it meanwhile.
	DefaultBatchLimitMemory = 10 * time.Minute
	// maxResplits bounds how often one call is re-sent in smaller requests
	// after batch errors (the limit at least halves each time, so this is
	// never reached with honest servers).
	maxResplits = 32
)

// learnedLimit is what a Pool knows of one endpoint's largest acceptable
// request, guarded by Pool.mu. The endpoint's own limit (its MaxInputs,
// such as TEI's max_client_batch_size) is the ceiling; a learned limit
// only ever lies below it. A larger size is tried by one request at a
// time (the probe), so that a failed probe costs one refused request, not
// one per caller.
type learnedLimit struct {
	learned int       // limit learned from batch errors; 0 = none
	minBad  int       // smallest size that failed with a batch error; 0 = none
	badAt   time.Time // when a request of minBad inputs last failed
	maxGood int       // largest size answered with vectors
	atLimit int       // requests at the limit answered since it last changed
	probe   int       // size to try next, above the limit; 0 = none
	probing bool      // the probe is in flight
}

// limit returns the most inputs to send in one request: the learned limit
// or the ceiling, whichever is lower; 0 means no limit.
func (l *learnedLimit) limit(ceiling int) int {
	switch {
	case l.learned == 0:
		return ceiling
	case ceiling <= 0:
		return l.learned
	default:
		return min(l.learned, ceiling)
	}
}

// chunk returns how many of n inputs to send in the next request, and
// whether that request is the probe of a larger limit.
func (l *learnedLimit) chunk(n, ceiling int) (size int, probe bool) {
	lim := l.limit(ceiling)
	if lim <= 0 || n <= lim {
		return n, false
	}
	if l.probe > lim && !l.probing {
		l.probing = true
		return min(n, l.probe), true
	}
	return lim, false
}

// failed notes a batch error for a request of n ≥ 2 inputs and returns the
// limit before and after. A request larger than the limit (a probe, or one
// sent before the limit dropped) lowers nothing.
func (l *learnedLimit) failed(n, ceiling int, probe bool, now time.Time, memory time.Duration) (from, to int) {
	if probe {
		l.probe, l.probing = 0, false
	}
	from = l.limit(ceiling)
	if l.minBad == 0 || n <= l.minBad || now.Sub(l.badAt) > memory {
		l.minBad, l.badAt = n, now
	}
	if from > 0 && n > from {
		return from, from
	}
	if l.maxGood >= n {
		l.maxGood = 0 // the server's limit shrank: what passed before may not now
	}
	to = max(1, n/2, l.maxGood)
	l.learned, l.atLimit, l.probe = to, 0, 0
	return from, to
}

// succeeded notes a request of n inputs answered with vectors and returns
// the limit before and after. A successful probe raises the limit to its
// size. After probeAfter requests at the limit, the next probe is set
// halfway towards the smallest size known to fail, or to twice the limit
// once that failure is older than memory, at most the ceiling.
func (l *learnedLimit) succeeded(n, ceiling, probeAfter int, probe bool, now time.Time, memory time.Duration) (from, to int) {
	l.maxGood = max(l.maxGood, n)
	if l.minBad > 0 && n >= l.minBad {
		l.minBad = 0 // it passes now
	}
	from = l.limit(ceiling)
	if probe {
		l.probing = false
		if n >= l.probe {
			l.probe = 0
		}
		if n > from {
			l.learned, l.atLimit = n, 0
			if ceiling > 0 && n >= ceiling {
				l.learned = 0
			}
		}
		return from, l.limit(ceiling)
	}
	if l.learned == 0 || n < from || l.probe > 0 {
		return from, from
	}
	if l.atLimit++; l.atLimit < probeAfter {
		return from, from
	}
	l.atLimit = 0
	target := 2 * from
	if l.minBad > 0 && now.Sub(l.badAt) <= memory {
		target = from + (l.minBad-from)/2
	}
	if ceiling > 0 {
		target = min(target, ceiling)
	}
	if target > from {
		l.probe = target
	}
	return from, from
}

// ended notes that the probe of n inputs ended without telling anything
// (a server error, a cancellation): another request may probe.
func (l *learnedLimit) ended(probe bool) {
	if probe {
		l.probing = false
	}
}

// offsetIndex makes a record error of a request that held the caller's
// inputs from base on name the input's position in the caller's slice.
func offsetIndex(err error, base int) error {
	if base == 0 {
		return err
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Class != fault.ClassRecord || fe.Index < 0 {
		return err
	}
	return fault.RecordAt(base+fe.Index, fmt.Errorf("in the request of the inputs from %d on: %w", base, err))
}
