package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/event"
)

// ingest --partition-by tenant: every chunk of a tenant lands in one
// partition of documents.parsed, keys and per-document order unchanged;
// by document (the default) a tenant's documents spread.
func TestPartitionByTenantOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 12, 8)
	var total int
	for _, tenant := range []string{"acme", "globex"} {
		_, n := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--tenant", tenant, "--partition-by", "tenant", corpus))
		total += n
	}
	_, spread := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--tenant", "initech", corpus))
	recs := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(total+spread))
	parts := map[string]map[int32]bool{}
	next := map[string]int32{}
	for _, r := range recs {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != string(event.Key(m.GetTenantId(), m.GetDocId())) {
			t.Fatalf("key %q", r.Key)
		}
		if parts[m.GetTenantId()] == nil {
			parts[m.GetTenantId()] = map[int32]bool{}
		}
		parts[m.GetTenantId()][r.Partition] = true
		doc := m.GetTenantId() + "/" + m.GetDocId()
		if m.GetChunkIndex() != next[doc] {
			t.Fatalf("%s: chunk %d before %d", doc, m.GetChunkIndex(), next[doc])
		}
		next[doc]++
	}
	for _, tenant := range []string{"acme", "globex"} {
		if len(parts[tenant]) != 1 {
			t.Fatalf("--partition-by tenant: %s's chunks in %d partitions", tenant, len(parts[tenant]))
		}
	}
	if len(parts["initech"]) < 2 {
		t.Fatalf("by document, initech's 12 documents share %d partition(s)", len(parts["initech"]))
	}
	_, errs, err := run(t, time.Minute, "ingest", "--brokers", brokers, "--partition-by", "priority", corpus)
	if err == nil || !strings.Contains(errs, "want document or tenant") {
		t.Fatalf("unknown --partition-by: %v\n%s", err, errs)
	}
}
