// Package fault classifies errors so that every stage reacts to a failure
// the same way.
//
// ragpipe distinguishes four classes of failure, because they call for
// different reactions:
//
//   - Record: the input itself is bad (it cannot be decoded, the embedding
//     server rejects it with 400/422, it is over the token limit, the answer
//     for it is malformed). Retrying the same record elsewhere will not help;
//     the engine counts an attempt on that record and, after the limit, sends
//     it to the dead-letter queue. Only the record's own key is held back.
//   - Batch: the request as a whole was too big (413, out of memory). The
//     engine splits the batch and retries the halves; no attempt is counted.
//   - Server: the server is unwell (connection refused or reset, timeout,
//     5xx, 429). The record is not at fault: the engine retries with backoff,
//     without a limit, never counts an attempt and never dead-letters.
//   - Fatal: no retry can fix it, and no record is at fault: the embedding
//     server refuses the credentials (401/403), or nothing answers at the
//     configured URL (404 before any success, a mistyped path). The worker
//     stops with the error's message instead of retrying forever or
//     dead-lettering every record.
//
// Errors are classified by wrapping: Record, Batch, Server and Fatal return
// an *Error that carries the class (and, for Server, an optional
// Retry-After). ClassOf walks the wrap chain with errors.As (the outermost
// class wins). ClassServer is the zero Class, and an unclassified error is a
// Server error: when in doubt, ragpipe prefers to retry over losing a record
// to the dead-letter queue, because a transient problem that is mistaken for
// a poison record costs data, while the opposite costs only time. Only an
// explicit Fatal stops a worker.
package fault
