package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// Request keys whose round trip is a commit's latency.
const (
	keyOffsetCommit = 8
	keyEndTxn       = 26
)

// ClientOpts returns the options that hook the stage's Kafka client: its
// records in and out and its commit requests, and franz-go's kprom metrics
// (ragpipe_kafka_*, with a stage label). Append them to
// engine.Config.ClientOpts; each Stage's options serve one client.
func (s *Stage) ClientOpts() []kgo.Opt {
	kp := kprom.NewMetrics(Namespace,
		kprom.Subsystem("kafka"),
		kprom.Registerer(s.m.recd),
		kprom.Gatherer(s.m.reg),
		kprom.WithStaticLabel(prometheus.Labels{"stage": s.name}),
	)
	return []kgo.Opt{kgo.WithHooks(&clientHooks{s: s}, kp)}
}

// clientHooks are the franz-go hooks of a stage's client.
type clientHooks struct{ s *Stage }

// OnFetchRecordUnbuffered counts a record handed to the engine by a poll.
func (h *clientHooks) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if polled {
		h.s.m.recordsIn.WithLabelValues(h.s.name, r.Topic).Inc()
	}
}

// OnProduceRecordUnbuffered counts a produced record once the broker
// acknowledged it, or its failure.
func (h *clientHooks) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if err != nil {
		h.s.m.produceFailures.WithLabelValues(h.s.name, r.Topic).Inc()
		return
	}
	h.s.m.recordsOut.WithLabelValues(h.s.name, r.Topic).Inc()
}

// OnBrokerE2E times commit requests, periodic ones included.
func (h *clientHooks) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if (key == keyOffsetCommit || key == keyEndTxn) && e2e.Err() == nil {
		h.s.commitLatency.Observe(e2e.DurationE2E().Seconds())
	}
}

var (
	_ kgo.HookFetchRecordUnbuffered   = (*clientHooks)(nil)
	_ kgo.HookProduceRecordUnbuffered = (*clientHooks)(nil)
	_ kgo.HookBrokerE2E               = (*clientHooks)(nil)
)
