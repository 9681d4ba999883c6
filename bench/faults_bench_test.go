package bench

import (
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/embed/gpusim"
)

// gpuBound is the capacity-capped server of the fault benchmarks: 4 batches
// at a time, 20 ms + 0.2 ms per input (about 7,800 inputs/s in batches of
// 64).
func gpuBound() gpusim.Config {
	return gpusim.Config{BaseLatency: 20 * time.Millisecond, PerItemLatency: 200 * time.Microsecond, MaxConcurrent: 4, Seed: 7}
}

// BenchmarkMixedFaults runs the embed stage against the same
// capacity-capped gpusim twice, fault-free and with mixed faults but no
// outage (1% of requests hang for 20 s, 3% answer 500, 2% answer 429 with
// Retry-After 1s, 1% of connections drop), over 40,000 chunks, and reports
// the faulty run's throughput as a share of the clean run's (goal ≥ 0.80),
// measured from chunks.embedded's record timestamps. Nothing may be lost,
// reordered or dead-lettered.
func BenchmarkMixedFaults(b *testing.B) {
	const docs, chunks = 1000, 40
	for range b.N {
		g := gpuBound()
		clean := runEmbedStage(b, g, docs, chunks, plainText, docs*chunks, 0, nil)
		f := g
		f.HangRate, f.HangFor = 0.01, 20*time.Second
		f.ErrorRates = map[int]float64{500: 0.03, 429: 0.02}
		f.RetryAfter = time.Second
		f.DropRate = 0.01
		mixed := runEmbedStage(b, f, docs, chunks, plainText, docs*chunks, 0, nil)
		if mixed.chunks != docs*chunks || mixed.dead != 0 || len(mixed.failed) != 0 {
			b.Fatalf("mixed faults: %d of %d chunks, %d dead letters, %d failed documents", mixed.chunks, docs*chunks, mixed.dead, len(mixed.failed))
		}
		b.ReportMetric(capacity(g, 64), "capacity-chunks/s")
		b.ReportMetric(clean.rate, "clean-chunks/s")
		b.ReportMetric(mixed.rate, "mixed-chunks/s")
		b.ReportMetric(mixed.rate/clean.rate, "mixed/clean")
		b.ReportMetric(clean.rate/capacity(g, 64), "clean/capacity")
		b.ReportMetric(float64(mixed.requests.Requests), "mixed-requests")
		b.ReportMetric(float64(mixed.records-mixed.chunks), "mixed-duplicates")
	}
}

// BenchmarkToxicDocument runs the embed stage over 1,000 documents of 20
// chunks twice against the same gpusim: clean, and with three documents
// each holding one toxic chunk (the server answers 500 to any request
// containing it, and everything else normally). Exactly those documents
// must fail; embedding the rest with them may take at most 1.25× the clean
// run (goal), measured from chunks.embedded's record timestamps. The toxic
// chunks themselves are dead-lettered after their five failures alone,
// about 6 s of backoff (last-dead-letter-s), concurrently with the rest.
func BenchmarkToxicDocument(b *testing.B) {
	const docs, chunks, marker = 1000, 20, "XTOXICX"
	toxic := map[int]int{111: 7, 444: 0, 777: 15} // document → its toxic chunk
	text := func(d, i int) string {
		if t, ok := toxic[d]; ok && t == i {
			return plainText(d, i) + " " + marker
		}
		return plainText(d, i)
	}
	want := docs * chunks
	for _, c := range toxic {
		want -= chunks - c // the toxic chunk and those after it are never embedded
	}
	for range b.N {
		g := gpuBound()
		clean := runEmbedStage(b, g, docs, chunks, plainText, docs*chunks, 0, nil)
		g.ToxicMarker = marker
		bad := runEmbedStage(b, g, docs, chunks, text, want, len(toxic), nil)
		if bad.chunks != want || bad.dead != len(toxic) || len(bad.failed) != len(toxic) {
			b.Fatalf("toxic run: %d of %d chunks, %d dead letters, %d failed documents (want %d)", bad.chunks, want, bad.dead, len(bad.failed), len(toxic))
		}
		b.ReportMetric(clean.span.Seconds(), "clean-s")
		b.ReportMetric(bad.span.Seconds(), "toxic-s")
		b.ReportMetric(bad.span.Seconds()/clean.span.Seconds(), "toxic/clean-time")
		b.ReportMetric(bad.deadAfter.Seconds(), "last-dead-letter-s")
		b.ReportMetric(float64(bad.requests.Toxic), "toxic-requests")
	}
}
