package integration

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/event"
)

// Priorities on real Kafka: three folders ingested with --priority high,
// normal and low (one tenant each) before the embed worker starts, so that
// every priority has a backlog for a capacity-limited GPU. What
// chunks.embedded holds shows, from its records' timestamps and offsets,
// that every high chunk was embedded before the last normal and the last
// low chunk, normal before low, that low chunks were embedded while high
// still had a backlog, and that nothing was lost and each document kept
// its order.
func TestPrioritiesOnKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")

	tenants := map[string]event.Priority{"hi": event.PriorityHigh, "mid": event.PriorityNormal, "lo": event.PriorityLow}
	chunks := map[string]int{}
	total := 0
	for tenant, prio := range tenants {
		dir := filepath.Join(t.TempDir(), tenant)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeSyntheticCorpus(t, dir, 30, 24)
		out := mustRun(t, 2*time.Minute, "ingest", "--brokers", brokers, "--tenant", tenant, "--priority", string(prio), dir)
		_, chunks[tenant] = parseIngested(t, out)
		total += chunks[tenant]
	}
	t.Logf("ingested chunks: %v", chunks)
	for tenant, prio := range tenants {
		// Each priority's chunks are on its own topic.
		recs := readTopic(t, brokers, event.PriorityTopic(prio), time.Minute, atLeast(chunks[tenant]))
		for _, r := range recs {
			if ten, _, err := event.ParseKey(r.Key); err != nil || ten != tenant {
				t.Fatalf("%s holds a chunk of tenant %q (%v)", event.PriorityTopic(prio), ten, err)
			}
		}
		if len(recs) != chunks[tenant] {
			t.Fatalf("%s holds %d chunks, ingest reported %d", event.PriorityTopic(prio), len(recs), chunks[tenant])
		}
	}

	// One GPU slot: the embedder, not Kafka, is the bottleneck.
	_, url := startGpusim(t, "--max-concurrent", "1", "--base-latency", "15ms", "--per-item", "1ms")
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-prio", "--embedder", url, "--model", "gpusim",
		"--batch-size", "8", "--concurrency", "2", "--min-concurrency", "2", "--priority-weights", "high=8,normal=3,low=1")

	type emb struct {
		tenant string
		ts     time.Time
	}
	var order []emb
	recs := readTopic(t, brokers, event.TopicEmbedded, 3*time.Minute, atLeast(total))
	embedP.stop(20 * time.Second)
	type chunkKey struct {
		tenant, doc string
		version     int64
		index       int32
	}
	seen := map[chunkKey]bool{}
	next := map[string]int32{} // per key, read in offset order of its partition
	for _, r := range recs {
		m, err := event.DecodeChunkEmbedded(r)
		if err != nil {
			t.Fatal(err)
		}
		k := chunkKey{m.GetTenantId(), m.GetDocId(), m.GetDocVersion(), m.GetChunkIndex()}
		if src, _ := event.Header(r, event.HeaderSourceTopic); src != event.PriorityTopic(tenants[k.tenant]) {
			t.Fatalf("chunk %v came from %s, want %s", k, src, event.PriorityTopic(tenants[k.tenant]))
		}
		if seen[k] {
			continue // a duplicate after a retry is allowed
		}
		seen[k] = true
		if k.index != next[string(r.Key)] {
			t.Fatalf("%s: chunk %d first appeared when chunk %d was expected (order broken)", r.Key, k.index, next[string(r.Key)])
		}
		next[string(r.Key)]++
		order = append(order, emb{k.tenant, r.Timestamp})
	}
	if len(seen) != total {
		t.Fatalf("chunks.embedded holds %d distinct chunks, %d were ingested", len(seen), total)
	}
	slices.SortStableFunc(order, func(a, b emb) int { return a.ts.Compare(b.ts) })
	last := map[string]time.Time{}
	for _, e := range order {
		last[e.tenant] = e.ts
	}
	if !last["hi"].Before(last["mid"]) || !last["hi"].Before(last["lo"]) {
		t.Errorf("last high chunk embedded at %s, not before the last normal (%s) and low (%s) chunks",
			last["hi"].Format(time.StampMilli), last["mid"].Format(time.StampMilli), last["lo"].Format(time.StampMilli))
	}
	if !last["mid"].Before(last["lo"]) {
		t.Errorf("last normal chunk embedded at %s, not before the last low chunk (%s)", last["mid"].Format(time.StampMilli), last["lo"].Format(time.StampMilli))
	}
	// Low progresses while high has a backlog: of the chunks embedded
	// before the last high one, at least a third of low's weight share
	// (1/12) are low chunks.
	before := map[string]int{}
	n := 0
	for _, e := range order {
		if !e.ts.Before(last["hi"]) {
			break
		}
		before[e.tenant]++
		n++
	}
	t.Logf("before the last high chunk (%d of %d): high %d, normal %d, low %d; last chunk at: high %s, normal %s, low %s",
		n, len(order), before["hi"], before["mid"], before["lo"],
		last["hi"].Format(time.StampMilli), last["mid"].Format(time.StampMilli), last["lo"].Format(time.StampMilli))
	if want := n / 36; before["lo"] < max(1, want) {
		t.Errorf("%d low chunks embedded before the last high chunk, want at least %d", before["lo"], max(1, want))
	}
}

// submit --priority on real Kafka: the raw documents carry the
// ragpipe.priority header, and the parse stage writes their chunks to the
// priority's topic (nothing of theirs on the others).
func TestSubmitPriorityOnKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "2", "--replication-factor", "1")
	for _, tenant := range []string{"hi", "lo"} {
		dir := filepath.Join(t.TempDir(), tenant)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeSyntheticCorpus(t, dir, 3, 8)
		prio := map[string]string{"hi": "high", "lo": "low"}[tenant]
		mustRun(t, time.Minute, "submit", "--brokers", brokers, "--tenant", tenant, "--priority", prio, dir)
	}
	// 3 documents a tenant, each of at least one chunk.
	p := start(t, "parse", "parse", "--brokers", brokers, "--group", "it-prio-parse")
	tenantsOn := func(topic string, n int, timeout time.Duration) map[string]int {
		got := map[string]int{}
		for _, r := range readTopic(t, brokers, topic, timeout, atLeast(n)) {
			ten, _, _ := event.ParseKey(r.Key)
			got[ten]++
		}
		return got
	}
	high, low := tenantsOn(event.TopicParsedHigh, 3, time.Minute), tenantsOn(event.TopicParsedLow, 3, time.Minute)
	p.stop(20 * time.Second)
	if high["hi"] < 3 || len(high) != 1 {
		t.Fatalf("documents.parsed.high holds chunks of %v, want only tenant hi", high)
	}
	if low["lo"] < 3 || len(low) != 1 {
		t.Fatalf("documents.parsed.low holds chunks of %v, want only tenant lo", low)
	}
	// parse has stopped: documents.parsed holds all it wrote (read for 5 s).
	if normal := tenantsOn(event.TopicParsed, 1<<30, 5*time.Second); len(normal) != 0 {
		t.Fatalf("documents.parsed holds chunks of %v, want none", normal)
	}
}
