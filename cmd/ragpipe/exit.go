package main

import (
	"errors"
	"fmt"
)

// Exit codes, defined once here and listed in the README (Operations → Exit
// codes). A script can tell a failed command from one that did its work
// but has something to report.
const (
	// exitOK: the command did its work.
	exitOK = 0
	// exitFailure: the command failed (bad flags or arguments, an
	// unreachable broker, a fatal worker error); the error is on stderr.
	exitFailure = 1
	// exitSomeFailed: ingest (or submit) took what it could, but some
	// files or paths failed (each reported on stderr).
	exitSomeFailed = 2
	// exitAttention: the command ran, and something needs attention:
	// topics apply found drift (--allow-drift accepts it), status found a
	// problem, dlq replay refused records (the loop guard), reembed
	// did not switch search after dead letters (--allow-failures).
	exitAttention = 3
	// exitDrift is exitAttention for topics apply.
	exitDrift = exitAttention
	// exitUsage is exitFailure for bad flags or arguments.
	exitUsage = exitFailure
)

// exitError ends the process with code after the command printed its own
// report; err, or else msg, when set, is printed on stderr as the last
// line.
type exitError struct {
	code int
	err  error
	msg  string
}

func (e *exitError) Error() string {
	switch {
	case e.err != nil:
		return e.err.Error()
	case e.msg != "":
		return e.msg
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process's exit code for the error a command returned,
// and whether the error should be printed.
func exitCode(err error) (code int, print bool) {
	if err == nil {
		return exitOK, false
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.err != nil || ee.msg != ""
	}
	return exitFailure, true
}
