package event

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func partitionOf(p kgo.Partitioner, key []byte, n int) int {
	return p.ForTopic(TopicParsed).Partition(&kgo.Record{Topic: TopicParsed, Key: key}, n)
}

// By tenant, every document of a tenant lands where the tenant's name
// alone hashes (Kafka's murmur2); by document, documents spread.
func TestTenantPartitioner(t *testing.T) {
	const n = 12
	byTenant, byDoc := PartitionByTenant.Partitioner(), PartitionByDocument.Partitioner()
	for _, tenant := range []string{"acme", "globex", "initech"} {
		want := partitionOf(byDoc, []byte(tenant), n)
		seen := map[int]bool{}
		for d := range 50 {
			key := Key(tenant, fmt.Sprintf("docs/%d.md", d))
			if got := partitionOf(byTenant, key, n); got != want {
				t.Fatalf("%s: partition %d, want %d (the tenant's)", key, got, want)
			}
			seen[partitionOf(byDoc, key, n)] = true
		}
		if len(seen) < 4 {
			t.Fatalf("by document, %s's 50 documents use only %d partitions", tenant, len(seen))
		}
	}
	if _, err := ParsePartitioning("priority"); err == nil {
		t.Fatal("unknown partitioning accepted")
	}
}
