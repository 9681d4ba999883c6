// Package ops inspects and adjusts a running pipeline with the Kafka admin
// API (kadm): the consumer groups on the pipeline's topics (members, their
// partitions, committed offsets, lag, its trend and the time to drain),
// hot partitions, the dead-letter queue's depth per stage, recent
// DocumentFailed events, broker log-dir usage, stale groups, and offset
// resets for re-processing.
//
// Invariants:
//
//   - Inspection never changes the cluster: it joins no group and commits
//     nothing. Only Reset (commit offsets) and DeleteGroups change it.
//   - Rates come from two samples Interval apart: the consume rate of a
//     partition is its committed-offset delta over the interval, its
//     arrival rate the end-offset delta. A partition is hot when its
//     arrival rate is at least HotFactor times the median of its topic's
//     partitions (with a non-zero median, or some arrivals against a zero
//     median), or, when nothing arrived during the interval, when its
//     record count is at least HotFactor times the median of a non-zero
//     median.
//   - A group is stale when it has no members and either every commit is
//     older than its topics' retention.ms or a committed offset is below
//     the partition's log start (its position was deleted under it).
//   - PlanReset refuses a group with members: a member's next commit would
//     undo the reset. Offsets are clamped to each partition's start and end.
//   - A Report's NeedsAttention lists every finding that should page or
//     warn someone; an empty list means healthy.
//
// The package holds no global state.
package ops
