// Package gpusim is an OpenAI-compatible embedding server that behaves like
// one GPU: for tests, demos and benchmarks of ragpipe without a model.
//
// # Capacity model
//
// A request for n inputs occupies one of MaxConcurrent execution slots for
// BaseLatency + n×PerItemLatency (the time to compute the vectors is part of
// that budget, not added to it). Requests that find every slot busy queue,
// in no particular order, until a slot frees or the client gives up. So one
// server's throughput peaks at MaxConcurrent×n/(BaseLatency+n×PerItemLatency)
// inputs per second, and bigger batches amortise the base latency, as on a
// real GPU.
//
// Vectors are those of embed.Hash with the same dimension, so text embedded
// through the simulator matches text embedded in process with the "hash"
// embedder, bit for bit (float32 values survive the JSON round trip).
//
// # Faults
//
// Each request draws once from a random generator seeded with Config.Seed.
// With probability DropRate the connection is closed without an answer (a
// TCP reset); with HangRate the request sleeps for HangFor (default 60s) or
// until the client gives up, then is served normally; with ErrorRates[s] it
// is answered with status s (429 and 503 carry Retry-After). The outcomes
// are exclusive, so the rates must add up to at most 1. With concurrent
// clients the order in which requests draw varies, so only the rates, not
// the sequence, are reproducible.
//
// Deterministic faults follow: a request with more than MaxBatch inputs gets
// 413; a request in which some input contains PoisonMarker gets 400 naming
// the first such input ({"error":{"message":"input 3 is invalid: …",
// "index":3}}); a request with more than OOMAbove inputs gets, once it holds
// a slot, 500 {"error":"CUDA out of memory"}. A request in which some input
// contains ToxicMarker (and that is not over MaxBatch) is not subject to
// the random faults: it holds a slot for its batch's latency, then gets 500
// with a CUDA error that names no input, every time, like an input that
// crashes the model; the other requests are served as usual.
//
// The faults compose with the capacity model: a hanging request sleeps
// before it takes a slot, so hangs cost clients time but not capacity,
// while an out-of-memory or toxic batch holds its slot. Stats counts
// answers by status (Errors; Batches counts the 200s), hangs, drops,
// abandoned and toxic requests.
//
// # Outages
//
// Outages are windows of time relative to the server's start. In the
// default mode, OutageRefuse, the server closes its listener and every open
// connection when the window starts, so clients get "connection refused"
// (and in-flight requests a reset), and listens again on the same address
// when it ends. In OutageUnavailable mode it keeps listening and answers
// every request, /health included, with 503 and Retry-After.
//
// # Endpoints
//
//	POST /v1/embeddings  OpenAI embeddings API ("input": string or strings)
//	POST /embeddings     the same
//	GET  /v1/models      the one model
//	GET  /health         200 "ok" (503 during an OutageUnavailable window)
//	GET  /info           TEI-like description: model_id, max_client_batch_size, …
//
// Stats returns counters and gauges; the server logs with log/slog.
package gpusim
