package embed

import (
	"errors"
	"strings"
	"testing"

	"github.com/ragpipe/ragpipe/fault"
)

func TestEstimateTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   \t\n", 0},
		{"hello", 1},
		{"Hello, world!", 4},
		{"don't stop", 2},
		{"rock ’n’ roll", 5}, // a quote not between word characters is punctuation
		{"x := a->b ... (c)", 9},
		{"snake_case camelCase 12345 v1.2", 6},
		{"naïve café", 2},
		{"e\u0301te\u0301", 1}, // combining marks belong to the word
		{"日本語のテキスト", 8},
		{"한국어 text", 4},
		{"'quoted'", 3},
		{"\x00\x01 \xff\xfe", 0}, // control bytes and invalid UTF-8 count nothing
	} {
		if got := estimateTokens(tc.in); got != tc.want {
			t.Errorf("estimateTokens(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestCheckTokenLimit(t *testing.T) {
	long := strings.Repeat("word ", 20)
	if err := checkTokenLimit([]string{long}, 0); err != nil {
		t.Fatalf("no limit: %v", err)
	}
	if err := checkTokenLimit([]string{"a", long[:50]}, 10); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	// Many bytes, few tokens: not over.
	if err := checkTokenLimit([]string{strings.Repeat("a", 100)}, 10); err != nil {
		t.Fatalf("one long word: %v", err)
	}
	err := checkTokenLimit([]string{"a", "b", long, long}, 10)
	wantClass(t, err, fault.ClassRecord, 2)
	if !errors.Is(err, ErrInputTooLong) || !strings.Contains(err.Error(), "input 2 has ~20 tokens, over the limit of 10") {
		t.Fatalf("error %v", err)
	}
}
