// Package baselines holds the consumers ragpipe's benchmark harness
// measures ragpipe against, on the same broker and the same simulated GPU:
//
//   - Naive: one record at a time, a synchronous embedding request, a
//     synchronous produce and a synchronous commit after each record.
//   - PartitionSequential: one batch per partition in flight; the
//     partitions of a poll run concurrently, the next poll waits for all.
//   - Pipe: consume → produce with no processing, the machine's ceiling.
//
// Each runs until its context ends. They are deliberately plain: what a
// competent engineer writes in an afternoon with franz-go.
package baselines
