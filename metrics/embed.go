package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ragpipe/ragpipe/embed"
)

// HealthSource is what AddPool reads at scrape time: an *embed.Pool.
type HealthSource interface {
	Health() []embed.EndpointHealth
}

// AddPool adds the endpoints of an embedding pool, read at scrape time.
func (m *Metrics) AddPool(p HealthSource) {
	m.mu.Lock()
	m.pools = append(m.pools, p)
	m.mu.Unlock()
}

var (
	epBreakerDesc    = desc("embed_endpoint_breaker_state", "The endpoint's circuit breaker: 0 closed, 1 open, 2 half-open.", "endpoint")
	epInFlightDesc   = desc("embed_endpoint_in_flight_requests", "Requests the endpoint is serving now.", "endpoint")
	epLatencyDesc    = desc("embed_endpoint_latency_seconds", "Moving average of the endpoint's successful request durations.", "endpoint")
	epP99Desc        = desc("embed_endpoint_latency_p99_seconds", "p99 of the endpoint's recent successful requests (0 before enough samples).", "endpoint")
	epHedgeAfterDesc = desc("embed_endpoint_hedge_after_seconds", "How long a request to the endpoint runs before it is hedged (0: not yet, or hedging off).", "endpoint")
	epBatchDesc      = desc("embed_endpoint_batch_limit", "Most inputs sent to the endpoint in one request, learned or its own (0: none).", "endpoint")
	epRequestsDesc   = desc("embed_requests_total", "Requests sent to the endpoint (hedges included).", "endpoint")
	epFailuresDesc   = desc("embed_request_failures_total", "Requests to the endpoint that failed with a server error.", "endpoint")
	epHedgedDesc     = desc("embed_hedged_requests_total", "Requests to the endpoint that ran past its hedge threshold and were hedged.", "endpoint")
	epHedgesDesc     = desc("embed_hedges_total", "Hedges sent to the endpoint.", "endpoint")
	epHedgeWinsDesc  = desc("embed_hedge_wins_total", "Hedges sent to the endpoint that answered first.", "endpoint")
)

func describePools(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{epBreakerDesc, epInFlightDesc, epLatencyDesc, epP99Desc, epHedgeAfterDesc,
		epBatchDesc, epRequestsDesc, epFailuresDesc, epHedgedDesc, epHedgesDesc, epHedgeWinsDesc} {
		ch <- d
	}
}

func collectPool(ch chan<- prometheus.Metric, p HealthSource) {
	for _, h := range p.Health() {
		m := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			ch <- prometheus.MustNewConstMetric(d, t, v, h.Name)
		}
		m(epBreakerDesc, prometheus.GaugeValue, float64(h.State))
		m(epInFlightDesc, prometheus.GaugeValue, float64(h.InFlight))
		m(epLatencyDesc, prometheus.GaugeValue, h.Latency.Seconds())
		m(epP99Desc, prometheus.GaugeValue, h.LatencyP99.Seconds())
		m(epHedgeAfterDesc, prometheus.GaugeValue, h.HedgeAfter.Seconds())
		m(epBatchDesc, prometheus.GaugeValue, float64(h.BatchLimit))
		m(epRequestsDesc, prometheus.CounterValue, float64(h.Requests))
		m(epFailuresDesc, prometheus.CounterValue, float64(h.Failures))
		m(epHedgedDesc, prometheus.CounterValue, float64(h.Hedged))
		m(epHedgesDesc, prometheus.CounterValue, float64(h.Hedges))
		m(epHedgeWinsDesc, prometheus.CounterValue, float64(h.HedgeWins))
	}
}
