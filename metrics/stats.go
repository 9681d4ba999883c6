package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// statsCollector reads every bound stage's engine.Stats at scrape time.
type statsCollector struct{ m *Metrics }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	inFlightRecordsDesc = desc("in_flight_records", "Records taken from Kafka and not yet passed by the commit watermark.", "stage")
	inFlightBytesDesc   = desc("in_flight_bytes", "Bytes of those records (bounded by --max-in-flight-bytes).", "stage")
	partitionsDesc      = desc("partitions_assigned", "Partitions the member holds.", "stage")
	pausedDesc          = desc("partitions_paused", "Partitions whose fetching is paused by the memory bound.", "stage")
	oldestDesc          = desc("oldest_unfinished_record_age_seconds", "Age of the oldest record taken and not done (0 when none).", "stage")
	lagDesc             = desc("partition_lag_records", "Records of the partition not yet done: end offset minus commit watermark.", "stage", "topic", "partition")
	bufferedDesc        = desc("partition_buffered_bytes", "Bytes of the partition's records taken and not done.", "stage", "topic", "partition")
	partPausedDesc      = desc("partition_paused", "1 when fetching the partition is paused by the memory bound.", "stage", "topic", "partition")
)

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{inFlightRecordsDesc, inFlightBytesDesc, partitionsDesc, pausedDesc,
		oldestDesc, lagDesc, bufferedDesc, partPausedDesc} {
		ch <- d
	}
	describePools(ch)
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	stages := append([]*Stage(nil), c.m.stages...)
	pools := append([]HealthSource(nil), c.m.pools...)
	c.m.mu.Unlock()
	for _, s := range stages {
		st, ok := s.stats()
		if !ok {
			continue
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.name}, labels...)...)
		}
		gauge(inFlightRecordsDesc, float64(st.InFlightRecords))
		gauge(inFlightBytesDesc, float64(st.InFlightBytes))
		gauge(partitionsDesc, float64(st.Partitions))
		gauge(pausedDesc, float64(st.PausedParts))
		gauge(oldestDesc, st.OldestAge.Seconds())
		for _, p := range st.Parts {
			part := strconv.Itoa(int(p.Partition))
			gauge(lagDesc, float64(p.Lag), p.Topic, part)
			gauge(bufferedDesc, float64(p.Buffered), p.Topic, part)
			gauge(partPausedDesc, btof(p.Paused), p.Topic, part)
		}
	}
	for _, p := range pools {
		collectPool(ch, p)
	}
}
