package fault

import (
	"errors"
	"time"
)

// overloadError marks a server error as push-back: the server is alive but
// asks for less (HTTP 429, 503, a Retry-After).
type overloadError struct{ err error }

func (e *overloadError) Error() string { return e.err.Error() }
func (e *overloadError) Unwrap() error { return e.err }

// Overload marks err as a server error that is push-back from a server
// that is alive but overloaded (429, 503). Callers that adapt their
// concurrency back off on it; other server errors (a 500, a reset, a
// timeout) fail only their own request.
func Overload(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return Server(&overloadError{err: err}, retryAfter)
}

// IsOverload reports whether err is push-back: marked by Overload, or a
// server error carrying a Retry-After hint.
func IsOverload(err error) bool {
	var o *overloadError
	return errors.As(err, &o) || (ClassOf(err) == ClassServer && RetryAfterOf(err) > 0)
}
