package embed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// vector decodes a JSON array of numbers. Unlike []float32 it accepts the
// non-finite values that some servers emit (null, and after quoteNonFinite
// "NaN", "Infinity", "-Infinity") and numbers beyond float32's range, so that
// decode can blame the one input whose vector holds them instead of failing
// the whole answer.
type vector []float32

func (v *vector) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*v = nil
		return nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return errors.New("embedding is not an array of numbers")
	}
	inner := b[1 : len(b)-1]
	if len(bytes.TrimSpace(inner)) == 0 {
		*v = vector{}
		return nil
	}
	out := make(vector, 0, bytes.Count(inner, []byte{','})+1)
	for inner != nil {
		var tok []byte
		if i := bytes.IndexByte(inner, ','); i >= 0 {
			tok, inner = inner[:i], inner[i+1:]
		} else {
			tok, inner = inner, nil
		}
		f, err := parseElem(bytes.TrimSpace(tok))
		if err != nil {
			return err
		}
		out = append(out, f)
	}
	*v = out
	return nil
}

func parseElem(tok []byte) (float32, error) {
	if len(tok) == 0 {
		return 0, errors.New("empty element in embedding")
	}
	switch tok[0] {
	case 'n':
		if string(tok) == "null" {
			return float32(math.NaN()), nil
		}
	case '"':
		var s string
		if err := json.Unmarshal(tok, &s); err == nil {
			switch strings.ToLower(s) {
			case "nan", "-nan", "+nan":
				return float32(math.NaN()), nil
			case "inf", "+inf", "infinity", "+infinity":
				return float32(math.Inf(1)), nil
			case "-inf", "-infinity":
				return float32(math.Inf(-1)), nil
			}
		}
	default:
		f, err := strconv.ParseFloat(string(tok), 32)
		var ne *strconv.NumError
		if err == nil || (errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)) {
			return float32(f), nil // out of range: ±Inf, caught by decode
		}
	}
	return 0, fmt.Errorf("embedding element %.40q is not a number", tok)
}

// quoteNonFinite rewrites the bare tokens NaN, Infinity and -Infinity that
// Python's json module emits (outside strings) into JSON strings. It reports
// whether it changed anything.
func quoteNonFinite(data []byte) ([]byte, bool) {
	var (
		out      []byte
		last     int
		inString bool
		escaped  bool
	)
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		for _, tok := range [...]string{"NaN", "Infinity", "-Infinity"} {
			if bytes.HasPrefix(data[i:], []byte(tok)) {
				out = append(out, data[last:i]...)
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				last = i + 1
				break
			}
		}
	}
	if out == nil {
		return data, false
	}
	return append(out, data[last:]...), true
}

func firstNonFinite(v []float32) int {
	for j, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return j
		}
	}
	return -1
}

// majorityLen returns the most common length of the vectors (the first one
// on a tie).
func majorityLen(vs [][]float32) int {
	counts := make(map[int]int, 2)
	best, bestN := 0, 0
	for _, v := range vs {
		counts[len(v)]++
		if n := counts[len(v)]; n > bestN {
			best, bestN = len(v), n
		}
	}
	return best
}

func sameLen(vs [][]float32) bool {
	for _, v := range vs[1:] {
		if len(v) != len(vs[0]) {
			return false
		}
	}
	return true
}

// indexRE finds an input position named in an error message: "input 3",
// "input[3]", "input #3", "input at index 3", "inputs[3]".
var indexRE = regexp.MustCompile(`(?i)\binputs?\s*(?:\[\s*(\d+)\s*\]|(?:at\s+)?(?:index\s*|#\s*|no\.?\s*|number\s*)?(\d+)\b)`)

// inputIndex returns the position of the offending input named in an error
// answer for n inputs, or -1. It understands {"index": i} and
// {"error": {"index": i}} (also "input_index"), FastAPI validation details
// ({"detail": [{"loc": ["body", "input", i]}]}) and messages such as
// "input 3 is too long".
func inputIndex(body []byte, n int) int {
	var doc any
	if json.Unmarshal(body, &doc) == nil {
		if i, ok := jsonIndex(doc, 0); ok && i >= 0 && i < n {
			return i
		}
	}
	if m := indexRE.FindSubmatch(body); m != nil {
		digits := m[1]
		if digits == nil {
			digits = m[2]
		}
		if i, err := strconv.Atoi(string(digits)); err == nil && i < n {
			return i
		}
	}
	return -1
}

func jsonIndex(doc any, depth int) (int, bool) {
	obj, ok := doc.(map[string]any)
	if !ok || depth > 2 {
		return -1, false
	}
	for _, k := range []string{"index", "input_index"} {
		if f, ok := obj[k].(float64); ok && f == math.Trunc(f) && f >= 0 && f < math.MaxInt32 {
			return int(f), true
		}
	}
	if i, ok := jsonIndex(obj["error"], depth+1); ok {
		return i, true
	}
	if details, ok := obj["detail"].([]any); ok {
		for _, d := range details {
			entry, _ := d.(map[string]any)
			loc, _ := entry["loc"].([]any)
			for j := 0; j+1 < len(loc); j++ {
				if loc[j] == "input" {
					if f, ok := loc[j+1].(float64); ok && f == math.Trunc(f) && f >= 0 && f < math.MaxInt32 {
						return int(f), true
					}
				}
			}
		}
	}
	return -1, false
}

var oomRE = regexp.MustCompile(`(?i)out[ _-]?of[ _-]?memory|\boom\b`)

func isOOM(body []byte) bool { return oomRE.Match(body) }

// parseRetryAfter reads an HTTP Retry-After value: delay-seconds (a
// fraction is tolerated) or an HTTP date. Invalid or past values give 0;
// the result is capped at 24h.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case math.IsNaN(secs) || secs <= 0:
			return 0
		case secs >= maxRetryAfter.Seconds():
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	return min(max(d, 0), maxRetryAfter)
}

// truncate returns b as a string of at most limit bytes, cut on a rune
// boundary and marked with "..." when cut.
func truncate(b []byte, limit int) string {
	b = bytes.TrimSpace(b)
	if len(b) <= limit {
		return string(b)
	}
	cut := limit - 3
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "..."
}
