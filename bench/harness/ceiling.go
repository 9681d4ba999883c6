package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ragpipe/ragpipe/embed"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// ceilingConns is how many requests the embedder-alone measurement keeps
// in flight: twice the worker's default batches in flight, so that the
// client is never what limits it.
const ceilingConns = 16

// embedderCeiling measures what the embedder costs on its own, as ragpipe
// pays it: a gpusim with the engine-bound model, called through ragpipe's
// own embedding client (embed.OpenAI: the same request encoding and
// response decoding as `ragpipe embed`) with batches of 64 texts from
// conns goroutines for d, without Kafka. It returns inputs per second.
func embedderCeiling(ctx context.Context, e *env, d time.Duration, conns int) (float64, error) {
	r := &run{ctx: ctx, env: e, sc: scenario{Name: "embedder-ceiling", GPU: gpuFree, Endpoints: 1}}
	gpus, err := r.startGPUs()
	defer func() {
		for _, g := range gpus {
			g.stop(5 * time.Second)
		}
	}()
	if err != nil {
		return 0, err
	}
	texts := make([]string, batchSize)
	i := 0
	docs(batchSize, batchSize, batchSize).each(func(m *ragpipev1.ChunkParsed, _ int32) {
		if i < len(texts) {
			texts[i] = m.GetText()
			i++
		}
	})
	client, err := embed.NewOpenAI(embed.Config{BaseURL: r.gpus[0], Model: "gpusim", Timeout: 10 * time.Second, MaxInputs: batchSize})
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				vecs, err := client.Embed(cctx, texts)
				if err == nil && len(vecs) == batchSize {
					n.Add(batchSize)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if n.Load() == 0 {
		return 0, fmt.Errorf("embedder ceiling: no request succeeded (see %s)", filepath.Join(e.logs, "embedder-ceiling-gpusim.log"))
	}
	return float64(n.Load()) / el, nil
}
