package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/fault"
)

type fakeEngine struct{ st engine.Stats }

func (f *fakeEngine) Stats() engine.Stats { return f.st }

type fakePool struct{ h []embed.EndpointHealth }

func (f *fakePool) Health() []embed.EndpointHealth { return f.h }

func TestHooksAndScrapeTimeGauges(t *testing.T) {
	m := New()
	s := m.Stage("embed")
	s.Bind(&fakeEngine{st: engine.Stats{InFlightRecords: 7, InFlightBytes: 1234, Partitions: 2, PausedParts: 1,
		OldestAge: 1500 * time.Millisecond, Parts: []engine.PartitionStats{
			{Topic: "documents.parsed", Partition: 0, Lag: 42, Buffered: 100, Paused: true},
			{Topic: "documents.parsed", Partition: 1, Lag: 3},
		}}})
	m.AddPool(&fakePool{h: []embed.EndpointHealth{{Name: "http://gpu/v1/embeddings", State: embed.BreakerOpen,
		LatencyP99: 250 * time.Millisecond, HedgeAfter: 750 * time.Millisecond, BatchLimit: 32, Requests: 10, Hedges: 3, HedgeWins: 2}}})

	s.OnRecordsDone(5)
	s.OnRecordsDone(3)
	s.OnBatchHandled(engine.BatchHandled{Records: 8, Bytes: 4096, Took: 20 * time.Millisecond})
	s.OnRecordFailed(engine.RecordFailed{Class: fault.ClassRecord, Counted: true})
	s.OnRecordFailed(engine.RecordFailed{Class: fault.ClassServer})
	s.OnRecordFailed(engine.RecordFailed{Class: fault.ClassServer})
	s.OnRecordDeadLettered(engine.RecordFailed{Class: fault.ClassRecord})
	s.OnCommitted(engine.Committed{Took: time.Millisecond})
	s.OnCommitted(engine.Committed{Err: errors.New("boom")})
	s.OnConcurrencyLimit(6)
	h := &clientHooks{s: s}
	h.OnFetchRecordUnbuffered(&kgo.Record{Topic: "documents.parsed"}, true)
	h.OnFetchRecordUnbuffered(&kgo.Record{Topic: "documents.parsed"}, false) // dropped, not polled
	h.OnProduceRecordUnbuffered(&kgo.Record{Topic: "chunks.embedded"}, nil)
	h.OnProduceRecordUnbuffered(&kgo.Record{Topic: "chunks.embedded"}, errors.New("x"))
	h.OnBrokerE2E(kgo.BrokerMetadata{}, keyOffsetCommit, kgo.BrokerE2E{TimeToWrite: time.Millisecond})
	h.OnBrokerE2E(kgo.BrokerMetadata{}, 1, kgo.BrokerE2E{TimeToWrite: time.Millisecond}) // a fetch: not a commit

	for name, want := range map[string]float64{
		"ragpipe_records_done_total":                   8,
		"ragpipe_records_in_total":                     1,
		"ragpipe_records_out_total":                    1,
		"ragpipe_produce_failures_total":               1,
		"ragpipe_records_dead_lettered_total":          1,
		"ragpipe_commits_total":                        2,
		"ragpipe_commit_failures_total":                1,
		"ragpipe_concurrency_limit":                    6,
		"ragpipe_in_flight_records":                    7,
		"ragpipe_in_flight_bytes":                      1234,
		"ragpipe_partitions_assigned":                  2,
		"ragpipe_partitions_paused":                    1,
		"ragpipe_oldest_unfinished_record_age_seconds": 1.5,
		"ragpipe_embed_endpoint_breaker_state":         1,
		"ragpipe_embed_endpoint_latency_p99_seconds":   0.25,
		"ragpipe_embed_endpoint_hedge_after_seconds":   0.75,
		"ragpipe_embed_endpoint_batch_limit":           32,
		"ragpipe_embed_requests_total":                 10,
		"ragpipe_embed_hedges_total":                   3,
		"ragpipe_embed_hedge_wins_total":               2,
	} {
		if got := sum(t, m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := sum(t, m, "ragpipe_partition_lag_records"); got != 45 {
		t.Errorf("lag sum %v, want 45", got)
	}
	want := `
# HELP ragpipe_record_failures_total Failed record attempts, by error class and whether the failure counted towards the record's limit.
# TYPE ragpipe_record_failures_total counter
ragpipe_record_failures_total{class="record",counted="true",stage="embed"} 1
ragpipe_record_failures_total{class="server",counted="false",stage="embed"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "ragpipe_record_failures_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "ragpipe_commit_duration_seconds"); err != nil || n != 1 {
		t.Errorf("commit latency series %d, %v", n, err)
	}
	if got := histCount(t, m, "ragpipe_commit_duration_seconds"); got != 1 {
		t.Errorf("commit latency observations %d, want 1 (the OffsetCommit only)", got)
	}
	if got := histCount(t, m, "ragpipe_batch_records"); got != 1 {
		t.Errorf("batch size observations %d", got)
	}
}

// sum adds the values of every series of a gauge or counter family.
func sum(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	found := false
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		found = true
		for _, x := range mf.GetMetric() {
			total += x.GetGauge().GetValue() + x.GetCounter().GetValue()
		}
	}
	if !found {
		t.Errorf("no series of %s", name)
	}
	return total
}

func histCount(t *testing.T, m *Metrics, name string) uint64 {
	t.Helper()
	mfs, _ := m.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func TestReadinessFollowsAssignmentAndBreaker(t *testing.T) {
	m := New()
	if ok, _ := m.Ready(); ok {
		t.Fatal("ready without a stage")
	}
	s := m.Stage("embed")
	srv, err := Serve(context.Background(), "127.0.0.1:0", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	check := func(wantCode int, wantBody string) {
		t.Helper()
		code, body := get("/readyz")
		if code != wantCode || !strings.Contains(body, wantBody) {
			t.Fatalf("/readyz %d %q, want %d with %q", code, body, wantCode, wantBody)
		}
	}
	check(503, "not settled")
	s.OnAssigned(0) // none to have: still ready
	check(200, "ready (0 partitions)")
	s.OnAssigned(3)
	check(200, "ready (3 partitions)")
	s.OnBreakerChanged(BreakerOpen)
	check(503, "circuit breaker open")
	if v := testutil.ToFloat64(m.breaker.WithLabelValues("embed")); v != 1 {
		t.Fatalf("breaker gauge %v", v)
	}
	s.OnBreakerChanged(BreakerHalfOpen)
	check(503, "half-open")
	s.OnBreakerChanged(BreakerClosed)
	check(200, "ready")
	if v := testutil.ToFloat64(m.ready.WithLabelValues("embed")); v != 1 {
		t.Fatalf("ready gauge %v", v)
	}
	s.Stopping()
	check(503, "shutting down")
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "ragpipe_ready") {
		t.Fatalf("/metrics %d", code)
	}
}

func TestNamesIncludeKafkaClientMetrics(t *testing.T) {
	m := New()
	s := m.Stage("index")
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, s.ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	names := strings.Join(m.Names(), " ")
	for _, n := range []string{"ragpipe_records_done_total", "ragpipe_partition_lag_records",
		"ragpipe_embed_hedges_total", "ragpipe_kafka_connects_total", "ragpipe_handler_duration_seconds"} {
		if !strings.Contains(" "+names+" ", " "+n+" ") {
			t.Errorf("Names lacks %s: %s", n, names)
		}
	}
	// Two stages' clients in one process share the registry.
	s2 := m.Stage("embed")
	cl2, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, s2.ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	cl2.Close()
}
