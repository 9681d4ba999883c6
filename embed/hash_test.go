package embed

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/ragpipe/ragpipe/fault"
)

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// checksum hashes the exact bits of a vector.
func checksum(v []float32) uint64 {
	h := fnv.New64a()
	for _, x := range v {
		b := math.Float32bits(x)
		h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
	}
	return h.Sum64()
}

// TestHashGolden pins the exact output, so that a change of tokenisation,
// hashing or arithmetic (which would silently invalidate every stored
// vector) fails here, on every machine and architecture.
func TestHashGolden(t *testing.T) {
	for _, tc := range []struct {
		dim  int
		text string
		sum  uint64
	}{
		{384, "The quick brown fox jumps over the lazy dog.", 0xe0a88a1f58d87cf},
		{384, "Kafka partitions are replicated; the leader serves reads and writes. Kafka Kafka kafka.", 0x283a89ed2b9d4fee},
		{64, "Straße über Ölfeld — naïve café 東京 2024", 0x22191a48bfae7cfe},
	} {
		v := NewHash(tc.dim).Vector(tc.text)
		if got := checksum(v); got != tc.sum {
			t.Errorf("dim %d %q: checksum %#x, want %#x", tc.dim, tc.text, got, tc.sum)
		}
	}
}

// referenceVector is a slow, obviously correct rendering of the algorithm
// documented on Hash, to check the allocation-free tokeniser against.
func referenceVector(text string, dim int) []float32 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
	tf := map[uint64]int{}
	fnv64 := func(s string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(s))
		return h.Sum64()
	}
	for i, w := range words {
		tf[mix64(fnv64(w))]++
		if i > 0 {
			tf[mix64(fnv64(words[i-1]+" "+w))]++
		}
	}
	acc := make([]float64, dim)
	for _, f := range slices.Sorted(maps.Keys(tf)) {
		w := 1 + math.Log(float64(tf[f]))
		if f&1 == 1 {
			w = -w
		}
		bucket, _ := bits.Mul64(f, uint64(dim))
		acc[bucket] += w
	}
	var sum float64
	for _, a := range acc {
		sum += a * a
	}
	out := make([]float32, dim)
	for i, a := range acc {
		if sum > 0 {
			out[i] = float32(a / math.Sqrt(sum))
		}
	}
	return out
}

func TestHashMatchesReference(t *testing.T) {
	texts := []string{
		"", "one", "one two", "  Leading and trailing  ", "x-y_z 3.14 don't",
		"Straße über Ölfeld — naïve café 東京 2024 हिन्दी भाषा",
		"a a a a b a a", benchText(300, 7), benchText(50, 8),
	}
	for _, dim := range []int{7, 64, 384} {
		h := NewHash(dim)
		for _, text := range texts {
			got, want := h.Vector(text), referenceVector(text, dim)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-6 {
					t.Fatalf("dim %d %q: v[%d] = %v, reference %v", dim, text, i, got[i], want[i])
				}
			}
		}
	}
}

func TestHashBasics(t *testing.T) {
	h := NewHash(0)
	if h.Dim() != 384 || h.Model() != "hash-384" {
		t.Fatalf("NewHash(0): dim %d model %q", h.Dim(), h.Model())
	}
	if m := NewHash(768).Model(); m != "hash-768" {
		t.Fatalf("model %q", m)
	}
	v := h.Vector("retrieval augmented generation pipelines")
	if len(v) != 384 {
		t.Fatalf("len %d", len(v))
	}
	if n := norm(v); math.Abs(n-1) > 1e-6 {
		t.Fatalf("norm %v, want 1", n)
	}
}

func TestHashEmptyIsZero(t *testing.T) {
	h := NewHash(32)
	for _, text := range []string{"", "   \t\n", "!!! --- ...", "\u00a0\u2003"} {
		v := h.Vector(text)
		for i, x := range v {
			if x != 0 || math.IsNaN(float64(x)) {
				t.Fatalf("%q: v[%d] = %v, want 0", text, i, x)
			}
		}
	}
}

func TestHashNormalisesCaseAndPunctuation(t *testing.T) {
	h := NewHash(128)
	pairs := [][2]string{
		{"Hello, World!", "hello world"},
		{"STRASSE Über", "strasse über"},
		{"GPU-bound (batch) jobs", "gpu bound batch jobs"},
	}
	for _, p := range pairs {
		if a, b := checksum(h.Vector(p[0])), checksum(h.Vector(p[1])); a != b {
			t.Errorf("%q and %q differ", p[0], p[1])
		}
	}
}

func TestHashSimilarity(t *testing.T) {
	h := NewHash(384)
	q := h.Vector("how does kafka replicate partitions")
	near := h.Vector("Kafka can replicate partitions across brokers")
	far := h.Vector("a recipe for lemon cake with fresh berries")
	if cn, cf := cosine(q, near), cosine(q, far); cn <= cf || cn < 0.2 {
		t.Fatalf("cos(near) = %.3f, cos(far) = %.3f", cn, cf)
	}
	// Same words, different order: bigrams differ, unigrams agree.
	a, b := h.Vector("dog bites man"), h.Vector("man bites dog")
	if c := cosine(a, b); c > 0.99 || c < 0.3 {
		t.Fatalf("cos(word order swap) = %.3f", c)
	}
}

func TestHashSublinearTF(t *testing.T) {
	h := NewHash(1024)
	// "a a a a" has one unigram with tf 4 and one bigram "a a" with tf 3.
	v := h.Vector("a a a a")
	var nonzero []float64
	for _, x := range v {
		if x != 0 {
			nonzero = append(nonzero, math.Abs(float64(x)))
		}
	}
	if len(nonzero) != 2 {
		t.Fatalf("%d non-zero buckets, want 2", len(nonzero))
	}
	want := (1 + math.Log(4)) / (1 + math.Log(3))
	got := nonzero[0] / nonzero[1]
	if got < 1 {
		got = 1 / got
	}
	if math.Abs(got-want) > 1e-5 {
		t.Fatalf("weight ratio %.6f, want %.6f", got, want)
	}
}

func TestHashTFTable(t *testing.T) {
	for k := 1; k <= len(tfTable); k++ {
		if got, want := tfWeight(k), 1+math.Log(float64(k)); math.Abs(got-want) > 1e-15*want {
			t.Errorf("tfWeight(%d) = %v, want %v", k, got, want)
		}
	}
	if got, want := tfWeight(100), 1+math.Log(100); got != want {
		t.Errorf("tfWeight(100) = %v, want %v", got, want)
	}
}

func TestHashEmbed(t *testing.T) {
	h := NewHash(64)
	inputs := []string{"one", "two", "", "three four"}
	vs, err := h.Embed(t.Context(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(inputs) {
		t.Fatalf("%d vectors", len(vs))
	}
	for i, in := range inputs {
		if checksum(vs[i]) != checksum(h.Vector(in)) {
			t.Errorf("vector %d does not match its input", i)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Embed(ctx, inputs); !errors.Is(err, context.Canceled) || fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("canceled: err = %v", err)
	}
}

func TestHashConcurrent(t *testing.T) {
	h := NewHash(384)
	want := checksum(h.Vector(benchText(200, 1)))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if got := checksum(h.Vector(benchText(200, 1))); got != want {
					t.Errorf("goroutine %d iteration %d: checksum differs", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchText returns n pseudo-random words from a small vocabulary.
func benchText(n int, seed uint64) string {
	words := strings.Fields(`the a of to and in is for on with pipeline kafka
		partition broker consumer producer offset record batch embedding vector
		search index retrieval document chunk token model server latency GPU
		throughput queue retry backoff error timeout commit replica leader`)
	var b strings.Builder
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[x%uint64(len(words))])
		if x%11 == 0 {
			b.WriteString(".")
		}
	}
	return b.String()
}

func BenchmarkHash(b *testing.B) {
	for _, dim := range []int{384, 1024} {
		b.Run(fmt.Sprintf("dim=%d/words=200", dim), func(b *testing.B) {
			h := NewHash(dim)
			texts := make([]string, 64)
			for i := range texts {
				texts[i] = benchText(200, uint64(i))
			}
			dst := make([]float32, dim)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				h.VectorInto(dst, texts[i%len(texts)])
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/input")
		})
	}
	b.Run("Embed/batch=256/words=200", func(b *testing.B) {
		h := NewHash(384)
		texts := make([]string, 256)
		for i := range texts {
			texts[i] = benchText(200, uint64(i))
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Embed(ctx, texts); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(texts)), "µs/input")
	})
}
