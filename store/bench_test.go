package store_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ragpipe/ragpipe/store"
	"github.com/ragpipe/ragpipe/store/storetest"
)

const benchDim = 384

func benchStores(b *testing.B, fn func(b *testing.B, s store.Store)) {
	b.Run("embedded", func(b *testing.B) {
		s, err := store.OpenEmbedded(b.TempDir(), false)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		fn(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := store.Open(b.Context(), storetest.PostgresDSN(b), false)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		fn(b, s)
	})
}

func randomChunks(rng *rand.Rand, tenant string, docs, perDoc int, version int64) []store.Chunk {
	var cs []store.Chunk
	for d := range docs {
		for i := range perDoc {
			v := make([]float32, benchDim)
			for j := range v {
				v[j] = rng.Float32() - 0.5
			}
			c := storetest.C(tenant, fmt.Sprintf("doc-%d-%d", version, d), version, int32(i), int32(perDoc), v...)
			c.Text = "some chunk text of a few hundred bytes, as a real chunk would carry"
			cs = append(cs, c)
		}
	}
	return cs
}

// Upserts of 256-chunk batches (the index stage's default), 384 dimensions.
func BenchmarkUpsert(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		rng := rand.New(rand.NewPCG(1, 1))
		batches := make([][]store.Chunk, b.N)
		for i := range batches {
			batches[i] = randomChunks(rng, "t", 32, 8, int64(i+1))
		}
		b.ResetTimer()
		for i := range b.N {
			if err := s.Upsert(b.Context(), batches[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(256*b.N)/b.Elapsed().Seconds(), "chunks/s")
	})
}

// k=10 searches of one of 4 tenants over 20,000 chunks, 384 dimensions.
func BenchmarkSearch(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		rng := rand.New(rand.NewPCG(2, 2))
		for tn := range 4 {
			for batch := range 20 {
				cs := randomChunks(rng, fmt.Sprintf("tenant-%d", tn), 25, 10, int64(batch+1))
				if err := s.Upsert(b.Context(), cs); err != nil {
					b.Fatal(err)
				}
			}
		}
		q := randomChunks(rng, "q", 1, 1, 1)[0].Vector
		b.ResetTimer()
		for range b.N {
			hits, err := s.Search(b.Context(), "tenant-1", q, 10)
			if err != nil || len(hits) != 10 {
				b.Fatalf("%d hits, %v", len(hits), err)
			}
		}
	})
}

// The same upserts from 4 goroutines at once (concurrent batches of one
// index worker, or several workers).
func BenchmarkUpsertConcurrent(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		rng := rand.New(rand.NewPCG(3, 3))
		batches := make([][]store.Chunk, b.N)
		for i := range batches {
			batches[i] = randomChunks(rng, "t", 32, 8, int64(i+1))
		}
		next := make(chan []store.Chunk, len(batches))
		for _, cs := range batches {
			next <- cs
		}
		close(next)
		b.ResetTimer()
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				for cs := range next {
					if err := s.Upsert(b.Context(), cs); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(256*b.N)/b.Elapsed().Seconds(), "chunks/s")
	})
}
