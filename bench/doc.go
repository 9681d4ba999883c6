// Package bench holds ragpipe's benchmarks of the consumer engine, run by
// `make bench-engine`; docs/benchmarks.md records their numbers and the machine.
//
// The handler models a GPU embedding server: each batch costs a fixed
// latency plus a per-record cost, and a fixed number of batches may run at
// once (gpu). That isolates what the engine adds — ordering, batching,
// commits, backpressure — from the cost of real embeddings.
//
// Benchmarks:
//   - BenchmarkOrdering: throughput of key ordering against partition
//     ordering on a one-partition topic carrying many documents.
//   - BenchmarkDocumentLatency: how long one 200-chunk document takes against
//     a 1-chunk one.
//   - BenchmarkBacklogRSS: the worker's resident memory while it drains a
//     1,000,000-record backlog from a broker in another process;
//     BenchmarkStuckHeadRSS the same with one record hung for 15 s.
//   - BenchmarkManyWorkers: 30 workers on 300 partitions in one process,
//     10 leaving and 10 joining under load: stalls and ordering.
//   - BenchmarkIngestToSearchable: document freshness through embed and
//     index at half the server's capacity, from record timestamps.
//   - BenchmarkMixedFaults, BenchmarkToxicDocument: the real embed stage
//     (stage.EmbedWorker, embed.Pool) against gpusim with faults, measured
//     from chunks.embedded's record timestamps (stage_test.go).
package bench
