package main

import "fmt"

// Exit codes (documented in the README).
const (
	exitOK        = 0 // success
	exitFailure   = 1 // an error
	exitUsage     = 2 // bad flags or arguments
	exitAttention = 3 // ran, but something needs attention (status), or only part succeeded (replay)
)

// exitError ends the process with code after the command printed its own
// report; err, when set, is printed too.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }
