// Package broker holds what every command needs to reach Kafka: the client
// options shared by all commands (seed brokers, TLS, SASL, timeouts), a
// reachability check that fails fast with a clear message instead of
// hanging, and the embedded broker.
//
// The embedded broker is franz-go's kfake, an in-process implementation of
// the Kafka protocol, with its data directory persistence switched on. It
// serves `ragpipe demo`, `ragpipe broker` (local development without Java)
// and fast unit tests. It is not a production broker: it has no
// replication and keeps its indexes in memory. Integration tests and
// production use Apache Kafka; every command speaks to both the same way.
package broker
