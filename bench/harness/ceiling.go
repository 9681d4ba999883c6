package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// embedderCeiling measures what the embedder costs on its own: a gpusim
// with the engine-bound model, loaded with batches of 64 texts from
// conns concurrent HTTP clients for d, without Kafka. It returns inputs
// per second.
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
	body, err := json.Marshal(map[string]any{"model": "gpusim", "input": texts})
	if err != nil {
		return 0, err
	}
	url := r.gpus[0] + "/embeddings"
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
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
				req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := cl.Do(req)
				if err != nil {
					continue
				}
				var out struct {
					Data []struct {
						Embedding []float32 `json:"embedding"`
					} `json:"data"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && len(out.Data) == batchSize {
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
