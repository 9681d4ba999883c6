// Package metrics exposes a ragpipe worker to Prometheus and to health
// checks: a collector of the engine's hooks and of its Stats, of the
// embedding pool's Health, and of the Kafka client (franz-go's kprom),
// served with /healthz and /readyz by Serve.
//
// # Invariants
//
//  1. No global state. Every Metrics owns a prometheus.Registry; nothing is
//     registered on the default registry, so several Metrics (tests, the
//     demo's stages) never collide.
//  2. Names follow Prometheus conventions: the ragpipe_ prefix, base units
//     (_seconds, _bytes), counters end in _total. Labels are drawn from
//     stage, topic, partition, endpoint, class and counted (and kprom's
//     node_id on ragpipe_kafka_*). Names
//     lists every name a Metrics registers, and the README and the Grafana
//     dashboard (deploy/grafana) use only those (tests check both).
//  3. Gauges that describe state the engine or the pool already keeps
//     (in-flight records and bytes, lag, paused partitions, oldest age,
//     endpoint health) are read at scrape time from engine.Stats and
//     embed.Pool.Health: never polled, never stale, and a scrape costs one
//     snapshot per source.
//  4. Hook methods never block and are safe for concurrent use, as the
//     engine requires (engine.Hook): they update counters, histograms and a
//     few fields under a mutex held for no I/O.
//  5. Ready means serving: a stage is ready once its member settled in the
//     group (partitions assigned, or none to have) and while its circuit
//     breaker is closed; a process is ready when every stage is. Readiness
//     is decided from hook events, never from a call to Kafka.
//
// # Files
//
//	metrics.go  Metrics: the registry, the engine-event vectors, Names
//	stage.go    Stage: one engine's hooks, readiness and client options
//	kafka.go    franz-go hooks: records in and out, commit latency; kprom
//	stats.go    scrape-time collector of engine.Stats
//	embed.go    scrape-time collector of embed.Pool.Health
//	server.go   Serve: /metrics, /healthz, /readyz
package metrics
