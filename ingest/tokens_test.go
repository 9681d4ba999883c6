package ingest

import (
	"math/rand"
	"strings"
	"testing"
)

func TestCountTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   \n\t ", 0},
		{"hello", 1},
		{"hello, world!", 4},
		{"don't", 1},
		{"don’t", 1},
		{"'quoted'", 3},
		{"rebalancing", 2},
		{"internationalization", 3},
		{"maxPollInterval", 3},
		{"max.poll.interval.ms", 8},
		{"12345678", 3},
		{"v1.2.3", 6},
		{"```go", 3},
		{"分区是有序的", 6},
		{"café", 1},
		{"партиция", 3},
		{"a\x00b", 2},
	}
	for _, tt := range tests {
		if got := CountTokens(tt.in); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestCountTokensAdditive checks the property the chunker relies on:
// counts add up over whitespace, and joining never costs more.
func TestCountTokensAdditive(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "B", "z", "0", "7", ".", "-", "'", "é", "分", "’", "\u00a0", "\xff", "_"}
	gen := func() string {
		var b strings.Builder
		for range rnd.Intn(12) {
			b.WriteString(alphabet[rnd.Intn(len(alphabet))])
		}
		return b.String()
	}
	for range 5000 {
		a, b := gen(), gen()
		for _, sep := range []string{" ", "\n\n", "\t"} {
			if got, want := CountTokens(a+sep+b), CountTokens(a)+CountTokens(b); got != want {
				t.Fatalf("CountTokens(%q+%q+%q) = %d, want %d", a, sep, b, got, want)
			}
		}
		if joined, sum := CountTokens(a+b), CountTokens(a)+CountTokens(b); joined > sum {
			t.Fatalf("CountTokens(%q+%q) = %d > %d", a, b, joined, sum)
		}
	}
}

func TestContentHash(t *testing.T) {
	tests := map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	}
	for in, want := range tests {
		if got := ContentHash(in); got != want {
			t.Errorf("ContentHash(%q) = %s, want %s", in, got, want)
		}
	}
}

func BenchmarkCountTokens(b *testing.B) {
	text := strings.Repeat(benchProse(1<<20), 1)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		CountTokens(text)
	}
}
