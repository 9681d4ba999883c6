// Package engine is the consumer runtime every ragpipe stage runs on: it
// reads input topics in a consumer group, hands batches of records to a
// handler, produces the handler's outputs, and commits input offsets only
// once the work they stand for is safe.
//
// # Invariants
//
//  1. Order per key. Records are queued in lanes: one FIFO per key (the
//     default OrderKey), per partition (OrderPartition) or per record
//     (OrderUnordered). At most one batch holds records of a lane at a time,
//     and a batch takes a lane's records as a consecutive run from its head.
//     A lane's outputs are handed to the producer in offset order before the
//     lane is released, and the idempotent producer keeps that order per
//     output partition, so a key's outputs appear in offset order. Different
//     lanes run concurrently, also within one partition: concurrency is
//     bounded by MaxInFlightBatches, not by the partition count.
//  2. Commit watermark. Each partition has a ledger of the records taken
//     from it, in offset order. A record is done when every output it
//     produced is acknowledged by the broker, or when it was dead-lettered
//     and those records are acknowledged. The committable offset is one past
//     the longest done prefix; a record finished early waits for its
//     predecessors. Nothing beyond an unfinished record is ever committed,
//     so after a crash at any moment no record is skipped, and what is
//     processed again is bounded by the records in flight.
//  3. Memory bound. The bytes of records taken and not yet passed by the
//     commit watermark never exceed MaxInFlightBytes by more than one poll:
//     a done record that waits for an earlier unfinished one still counts.
//     Polling stops at the bound, and a partition whose buffered bytes pass
//     its share of the bound is paused (fetching resumes when it drains
//     below half), so a stuck partition pauses instead of growing. With
//     Config.TopicWeights each input topic (priority class) also has a
//     share, MaxInFlightBytes/len(Topics): when a class's buffered bytes
//     pass it, all its partitions pause until it drains below half
//     (whether its records complete or leave with a dropped partition; a
//     partition assigned meanwhile starts paused), so a backlog in one
//     class never fills the bound and the other classes' records still
//     come in (the partitions' shares alone overlap when
//     there are many partitions, each being at least 256 KiB, and a
//     partition may take one fetch beyond its share before it pauses). What a
//     restart redoes is bounded by the same bytes. Group heartbeats run in
//     the background, so neither a full buffer nor a slow handler costs the
//     member its place in the group.
//  4. Failures are classified (package fault), and a failure costs only the
//     work it touches. A record error counts an attempt on that record and
//     fences only its lane (its key) for a backoff; after MaxAttempts the
//     record is dead-lettered and its lane goes on. A batch that fails as a
//     whole for a record or batch reason is split until the culprit stands
//     alone; a per-record batch-class result is retried alone; neither
//     counts. A server error counts nothing: the batch's records go back to
//     their lanes, fenced for a backoff of their own (honouring
//     Retry-After), while other lanes keep flowing. When the server answered
//     other requests meanwhile, a server-failed batch is split like a
//     record-failed one, and a record that fails alone so
//     (answered since it was sent, or Config.Probe succeeds) counts a
//     server failure, is sent alone from then on, and is dead-lettered
//     after MaxServerFailures: a toxic input. During an outage nothing is
//     split and nothing counts, so an outage never sends a record to the
//     dead-letter queue. When unpinned server errors persist (BreakerThreshold
//     in a row, or half of the last 20 batches) the circuit breaker opens:
//     fetching pauses on every topic, and single-record probes are sent on
//     a backoff until one succeeds. The number of batches in flight adapts
//     between MinInFlightBatches and MaxInFlightBatches (AIMD on batch
//     latency and on push-back only: 429, 503, Retry-After).
//  5. Oldest first. Ready lanes are dispatched by the intake order of their
//     head record, so each partition's done records stay close to its
//     watermark and a crash redoes little more than the records in flight.
//     With Config.TopicWeights this holds within a priority class (one per
//     input topic): classes are chosen by weighted fair queueing counted in
//     records, so with a backlog in every class class i gets
//     weight_i/Σweight of the records dispatched, a class with nothing
//     ready leaves its share to the others (no record waits while a slot
//     is free), and a class with a ready lane is served again within
//     about Σweight/weight_i records (plus one lane's run, at most
//     BatchMaxRecords, which later turns make up for): no class starves. An idle class rejoins at
//     the current virtual time, so idleness earns no burst. Per-key order,
//     the watermark and the memory bound are unchanged (a lane belongs to
//     one partition, hence one class; the class shares of the bound keep
//     one class's backlog from filling it). In exactly-once mode each
//     round still finishes every record it took; the weights order the
//     work within a round.
//
// # Rebalances and shutdown
//
// Assignment is cooperative-sticky. Polling blocks rebalances
// (BlockRebalanceOnPoll) only while polled records are put into lanes, so a
// revoke never races with intake. On revoke the engine stops dispatching
// the partition, lets its in-flight batches finish within DrainTimeout,
// commits its watermark, and drops the rest for the next owner. On lost
// partitions it drops without committing. On shutdown it stops polling and
// dispatching, waits up to DrainTimeout for in-flight work and its acks,
// commits, and leaves the group (a static member, with InstanceID, does not
// leave: it takes its partitions back on restart without a rebalance).
// Periodic commits of the marked watermarks run every CommitInterval. A
// revoke's drain and commit fit in RebalanceTimeout (Validate checks it).
// Dropped partition states whose batches still run are kept per state, so
// a partition re-assigned twice waits for every older batch.
//
// # Exactly once
//
// With ExactlyOnce each poll is one transaction. A round has a deadline
// below the transaction and rebalance timeouts; at the deadline it is
// aborted, its records are read again after a backoff with their failure
// counts carried over, and the member keeps its place. Nothing is produced
// while a transaction ends, and outputs cut off by an abort or a shutdown
// are expected, not fatal.
//
// # Hooks
//
// Config.Hooks take any value implementing some of the Hook* interfaces
// (hooks.go); new events come as new interfaces, so hooks never break.
//
// # Files
//
//	config.go     Config, defaults and validation, orderings
//	engine.go     Engine, New, Run, shutdown, commits, fatal errors
//	state.go      partition state, lanes and entries (all guarded by Engine.mu)
//	intake.go     polling, intake into ledgers and lanes, fetch pauses
//	dispatch.go   workers, gathering batches from ready lanes, breaker probes
//	settle.go     running a batch, emitting outputs in order, completion
//	rebalance.go  assignment, revocation, loss, dropping partitions
//	stats.go      Stats snapshots
//	handler.go    Handler, Result, dead-letter hook, batch bisection
//	ledger.go     per-partition offset ledger and commit watermark
//	queue.go      ready lanes by priority class, oldest head record first
//	priority.go   priority classes: weighted fair queueing counted in records, class shares of the memory bound
//	breaker.go    circuit breaker and adaptive concurrency limit
//	txn.go        exactly-once mode (one transaction per poll)
//	hooks.go      optional hook interfaces for metrics and health
package engine
