// Package embed turns texts into vectors.
//
// An Embedder maps a batch of texts to one vector per text, in input order.
// These implementations are provided:
//
//   - Hash: in-process feature hashing of lowercased word unigrams and
//     bigrams. It needs no model and no server, never fails (other than on
//     a canceled context) and is deterministic across processes, machines
//     and architectures, so a query hashed by one process matches documents
//     hashed by another. It is the default for tests and demos, and a usable
//     lexical baseline.
//   - OpenAI: a client for any server that speaks the OpenAI embeddings API
//     (POST {BaseURL}/embeddings): OpenAI itself, vLLM, llama.cpp, Ollama,
//     text-embeddings-inference, or this repository's gpusim simulator.
//   - TEI: a client for text-embeddings-inference's native API (POST
//     {BaseURL}/embed), which reads the server's limits and model name from
//     GET {BaseURL}/info.
//   - Pool: several endpoints serving one model, each call sent to the
//     healthiest, least-loaded one, with a circuit breaker per endpoint and
//     failover on server errors.
//
// Open builds one from a Spec: "hash", an http(s) URL (OpenAI-compatible)
// or "tei+" and an http(s) URL (TEI native), reading the API key from the
// environment once, at construction. OpenAll builds a Pool from several
// specs (a repeated --embedder flag).
//
// # Failure handling
//
// Every error an Embedder returns is classified with package fault, so that
// the engine can react without knowing anything about HTTP:
//
//   - fault.Server (retry with backoff, never dead-letter): connection
//     refused or reset, EOF, no answer within Config.Timeout, 5xx, 429, 503,
//     424, any other unexpected status, and answers that are malformed in a
//     way that cannot be pinned on one input. The server's Retry-After
//     (seconds or HTTP date) is carried and read with fault.RetryAfterOf.
//     A request abandoned because the caller's context ended is also a
//     Server error and wraps the context's error, so fault.IsCanceled
//     reports it; the client's own per-request timeout deliberately does not
//     wrap context.DeadlineExceeded (it wraps ErrTimeout instead) so that a
//     slow server is never mistaken for a shutdown.
//   - fault.Batch (split the batch, retry the halves): 413, and an
//     out-of-memory answer (a 5xx or 424 whose body mentions "out of memory"
//     or "OOM"). A Pool handles these itself by learning the endpoint's
//     batch limit (see Pools); through a Pool, the caller sees a batch
//     error only for a single input.
//   - fault.Record (count an attempt, eventually dead-letter): 400 and 422.
//     When the body names the offending input ("index": 3, "input 3", …) or
//     the request held a single input, the error carries its position in the
//     caller's batch (fault.RecordAt, read with fault.IndexOf); otherwise the
//     index is -1 and the caller bisects. A 2xx answer whose vector for input
//     i is empty, holds NaN or ±Inf, or has the wrong dimension is also
//     fault.RecordAt(i). Missing vectors are RecordAt the first missing index
//     when the answer's indices make it identifiable, Server otherwise.
//   - fault.Fatal (stop the worker and report the configuration error; no
//     retry, no dead letter): 401 and 403 (the error wraps ErrUnauthorized),
//     and 404 from an endpoint that has never answered an embedding
//     request, which means a mistyped URL (the error wraps ErrNotFound,
//     names the URL and suggests the right one: OpenAI-compatible base URLs
//     end in /v1, TEI's native API takes the server's root). After a first
//     success a 404 is a fault.Server error: a proxy or a server being
//     redeployed, which passes.
//
// TEI answers 413 both for a batch that is too big and for an input that is
// too long; see TEI for how it is told apart.
//
// Error messages name the status and include the answer's body truncated to
// 512 bytes; StatusError exposes both to errors.As.
//
// # Token limits
//
// With a token limit (Config.MaxInputTokens; for TEI by default the
// server's max_input_length), a client estimates each input's tokens before
// sending anything: words plus punctuation runs, which approximates a BPE
// tokenizer's count from below. If an input is over the limit the call
// sends nothing and fails with fault.RecordAt that input, wrapping
// ErrInputTooLong, so the engine isolates the record without a round trip.
// Inputs the estimate lets through but the server refuses are classified
// as above.
//
// # Pools
//
// A Pool returns record errors as is (another endpoint would refuse the
// input too), retries server errors at once on the other endpoints, and
// keeps failing endpoints out with a circuit breaker. When every breaker
// is open it sends nothing and fails with a fault.Server error wrapping
// ErrCircuitOpen, whose Retry-After is the time until the first endpoint
// may be probed. Fatal errors are returned at once and leave the breaker
// alone.
//
// A Pool learns each endpoint's batch limit: after a batch error for a
// request of n inputs the limit drops (to n/2, or the largest size that
// passed) and the same inputs are re-sent at once in smaller requests, so
// a server whose maximum batch is below the caller's batches costs one
// refused request, not one per batch; the limit is probed back up slowly,
// one request at a time, never to a size that failed in the last
// PoolConfig.BatchLimitMemory. A Pool also hedges: a request that has run
// for several times its endpoint's recent p99 latency (PoolConfig
// HedgeMultiplier, at least HedgeFloor) is sent again, to another endpoint
// when there is one, and the first answer wins; hedges are budgeted to a
// share of the requests, and a request whose hedge could not be sent (no
// budget left, or its endpoint's breaker open) tries again every
// HedgeFloor while it runs. OpenAll wraps even a single remote endpoint in a
// Pool, so that both apply. See Pool.
//
// # Dimensions
//
// Config.Dimensions is the expected vector length; it is not sent to the
// server. When it is zero the client learns it from the first valid answer.
// If every vector of a multi-input answer has the same, different length the
// server's model has changed (or was misconfigured): that is a Server error,
// not a reason to dead-letter a whole batch.
//
// # Batching
//
// OpenAI sends at most Config.MaxInputs inputs per request (TEI:
// TEIConfig.MaxInputs, by default the server's max_client_batch_size);
// larger Embed calls are split into consecutive requests, sent one after
// the other, and the results concatenated in input order. Both report that
// limit with a MaxInputs method, which a Pool takes as the endpoint's
// initial batch limit. Indices in record errors always refer to the
// caller's slice. Concurrency is the caller's business: the clients are
// safe for concurrent use and keep idle connections for reuse; a Pool
// spreads concurrent calls over its endpoints, and sends one call's
// requests one after the other (a hedge aside).
package embed
