package dlq

import (
	"fmt"
	"strings"
	"time"
)

// Filter selects dead letters. Empty fields select everything.
type Filter struct {
	Stage  string // ragpipe.dlq.stage, e.g. "embed"
	Class  string // ragpipe.dlq.error.class, e.g. "record"
	Tenant string // tenant of the record key
	Doc    string // document of the record key
	// Since (inclusive) and Until (exclusive) bound the dead letter's
	// timestamp; zero times do not bound.
	Since, Until time.Time
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Entry) bool {
	switch {
	case f.Stage != "" && !strings.EqualFold(f.Stage, e.Stage):
		return false
	case f.Class != "" && !strings.EqualFold(f.Class, e.Class):
		return false
	case f.Tenant != "" && f.Tenant != e.Tenant:
		return false
	case f.Doc != "" && f.Doc != e.Doc:
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	}
	return true
}

// ParseTime reads a point in time: RFC 3339 (with or without fractional
// seconds), or a duration before now such as "2h" or "90m". An empty
// string is the zero time.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 (2026-01-02T15:04:05Z) or a duration before now (2h, 30m)", s)
}
