package embed

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
)

// DefaultHashDim is the dimension of NewHash(0).
const DefaultHashDim = 384

// Hash is an in-process embedder based on feature hashing.
//
// A text is split into words (maximal runs of Unicode letters, digits and
// combining marks), lowercased. Each word unigram and each pair of adjacent words (bigram) is
// a feature, hashed with 64-bit FNV-1a (a bigram is hashed as "w1 w2"; words
// never contain a space, so it cannot collide with a unigram) and then mixed
// with the SplitMix64 finaliser, because FNV-1a's low bits are weak. The
// mixed hash picks one of dim buckets (from its high bits) and a sign (from
// its low bit). A feature seen tf times adds ±(1+ln tf) to its bucket, and
// the vector is normalised to unit L2 length. A text without words gives
// the zero vector (no NaN).
//
// The result depends only on the text and dim: no seed, no map iteration,
// features summed in an order that depends only on the text, weights for tf ≤ 64 taken from a
// table of constants and arithmetic written so the compiler cannot fuse
// multiply-adds. It is therefore identical across processes, machines and
// architectures (barring Unicode case-mapping changes between Go releases
// for rare scripts, and tf > 64 which uses math.Log).
//
// A Hash is safe for concurrent use and must not be copied.
type Hash struct {
	dim     int
	model   string
	scratch sync.Pool // *hashScratch
}

type hashScratch struct {
	feats  []uint64  // feature hashes, in text order
	keys   []uint64  // counting table: feature hashes…
	counts []uint32  // …and their counts (0 = empty slot)
	acc    []float64 // the vector before normalisation
}

// NewHash returns a Hash embedder of dimension dim; dim ≤ 0 means
// DefaultHashDim. Its model name is "hash-<dim>".
func NewHash(dim int) *Hash {
	if dim <= 0 {
		dim = DefaultHashDim
	}
	return &Hash{dim: dim, model: hashModel(dim)}
}

func hashModel(dim int) string { return "hash-" + strconv.Itoa(dim) }

// Model returns "hash-<dim>".
func (h *Hash) Model() string { return h.model }

// Dim returns the vector dimension.
func (h *Hash) Dim() int { return h.dim }

// Embed returns one vector per input. It fails only if ctx is done.
func (h *Hash) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	out := make([][]float32, len(inputs))
	slab := make([]float32, len(inputs)*h.dim) // one allocation per batch
	for i, text := range inputs {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embed: hash: %w", err)
			}
		}
		out[i] = slab[i*h.dim : (i+1)*h.dim : (i+1)*h.dim]
		h.VectorInto(out[i], text)
	}
	return out, nil
}

// Vector returns the embedding of one text.
func (h *Hash) Vector(text string) []float32 {
	out := make([]float32, h.dim)
	h.VectorInto(out, text)
	return out
}

// VectorInto writes the embedding of text into dst, which must have length
// Dim().
func (h *Hash) VectorInto(dst []float32, text string) {
	if len(dst) != h.dim {
		panic(fmt.Sprintf("embed: hash: dst has length %d, want %d", len(dst), h.dim))
	}
	s, _ := h.scratch.Get().(*hashScratch)
	if s == nil {
		s = &hashScratch{acc: make([]float64, h.dim)}
	}
	defer h.scratch.Put(s)

	s.feats = appendFeatures(s.feats[:0], text)
	clear(s.acc)
	// Count features in an open-addressing table whose size depends only on
	// the number of features, then add them up in slot order: the order is
	// a function of the text alone, so the float sums are reproducible.
	size := 16
	for size < 2*len(s.feats) {
		size *= 2
	}
	if cap(s.keys) < size {
		s.keys, s.counts = make([]uint64, size), make([]uint32, size)
	}
	keys, counts := s.keys[:size], s.counts[:size]
	clear(counts)
	mask := uint64(size - 1)
	for _, f := range s.feats {
		i := f & mask
		for counts[i] != 0 && keys[i] != f {
			i = (i + 1) & mask
		}
		keys[i] = f
		counts[i]++
	}
	dim := uint64(h.dim)
	for i, n := range counts {
		if n == 0 {
			continue
		}
		f := keys[i]
		w := tfWeight(int(n))
		hi, _ := bits.Mul64(f, dim) // bucket from the high bits
		if f&1 == 1 {
			w = -w
		}
		s.acc[hi] += w
	}
	var sum float64
	for _, a := range s.acc {
		sum += float64(a * a) // the conversion forbids a fused multiply-add
	}
	if sum == 0 {
		clear(dst)
		return
	}
	norm := math.Sqrt(sum)
	for i, a := range s.acc {
		dst[i] = float32(a / norm)
	}
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// mix64 is the SplitMix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// appendFeatures appends the mixed hashes of the unigrams and bigrams of
// text to feats. It does not allocate beyond growing feats.
func appendFeatures(feats []uint64, text string) []uint64 {
	var (
		prev    uint64 // FNV-1a of the previous word
		hasPrev bool
		uni     uint64 // FNV-1a of the current word so far
		bi      uint64 // FNV-1a of "prev current" so far
		inWord  bool
		buf     [utf8.UTFMax]byte
	)
	endWord := func() {
		feats = append(feats, mix64(uni))
		if hasPrev {
			feats = append(feats, mix64(bi))
		}
		prev, hasPrev, inWord = uni, true, false
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			default:
				if inWord {
					endWord()
				}
				continue
			}
			if !inWord {
				inWord = true
				uni = fnvOffset64
				bi = (prev ^ ' ') * fnvPrime64
			}
			uni = (uni ^ uint64(c)) * fnvPrime64
			bi = (bi ^ uint64(c)) * fnvPrime64
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
			if inWord {
				endWord()
			}
			continue
		}
		if !inWord {
			inWord = true
			uni = fnvOffset64
			bi = (prev ^ ' ') * fnvPrime64
		}
		n := utf8.EncodeRune(buf[:], unicode.ToLower(r))
		for _, b := range buf[:n] {
			uni = (uni ^ uint64(b)) * fnvPrime64
			bi = (bi ^ uint64(b)) * fnvPrime64
		}
	}
	if inWord {
		endWord()
	}
	return feats
}

// tfWeight returns 1+ln(tf). Values up to 64 come from a table of constants
// so that they do not depend on the platform's math.Log.
func tfWeight(tf int) float64 {
	if tf <= len(tfTable) {
		return tfTable[tf-1]
	}
	return 1 + math.Log(float64(tf))
}

// tfTable holds 1+ln(k) for k = 1…64. It is read-only.
var tfTable = [...]float64{
	1.0, 1.6931471805599454, 2.09861228866811, 2.386294361119891,
	2.6094379124341005, 2.791759469228055, 2.9459101490553135, 3.0794415416798357,
	3.1972245773362196, 3.302585092994046, 3.3978952727983707, 3.4849066497880004,
	3.5649493574615367, 3.6390573296152584, 3.70805020110221, 3.772588722239781,
	3.833213344056216, 3.8903717578961645, 3.9444389791664403, 3.995732273553991,
	4.044522437723423, 4.091042453358316, 4.13549421592915, 4.178053830347945,
	4.218875824868201, 4.258096538021482, 4.295836866004329, 4.332204510175204,
	4.367295829986475, 4.401197381662156, 4.433987204485146, 4.465735902799727,
	4.49650756146648, 4.526360524616162, 4.555348061489413, 4.58351893845611,
	4.610917912644224, 4.637586159726386, 4.663561646129646, 4.688879454113936,
	4.713572066704308, 4.737669618283368, 4.761200115693562, 4.7841896339182615,
	4.80666248977032, 4.828641396489095, 4.850147601710058, 4.871201010907891,
	4.891820298110627, 4.912023005428146, 4.931825632724326, 4.951243718581427,
	4.970291913552122, 4.9889840465642745, 5.007333185232471, 5.02535169073515,
	5.04305126783455, 5.060443010546419, 5.07753744390572, 5.0943445622221,
	5.110873864173311, 5.127134385045092, 5.143134726391533, 5.1588830833596715,
}
