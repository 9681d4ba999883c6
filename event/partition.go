package event

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioning says which part of a record key chooses its partition.
type Partitioning string

const (
	// PartitionByDocument hashes the whole key (<tenant_id>/<doc_id>), as
	// Kafka's default partitioner does: documents spread over partitions.
	PartitionByDocument Partitioning = "document"
	// PartitionByTenant hashes only the tenant part of the key: one
	// tenant's documents share a partition (isolation: a tenant's burst
	// queues behind itself), while keys and per-document order are as
	// with PartitionByDocument.
	PartitionByTenant Partitioning = "tenant"
)

// ParsePartitioning parses a --partition-by value.
func ParsePartitioning(s string) (Partitioning, error) {
	switch p := Partitioning(s); p {
	case PartitionByDocument, PartitionByTenant:
		return p, nil
	case "":
		return PartitionByDocument, nil
	}
	return "", fmt.Errorf("unknown partitioning %q (want document or tenant)", s)
}

// Partitioner returns the producer partitioner for p: Kafka's murmur2 hash
// of the whole key, or of the tenant part only (a key that does not parse
// falls back to the whole key).
func (p Partitioning) Partitioner() kgo.Partitioner {
	base := kgo.StickyKeyPartitioner(nil) // murmur2, as Kafka's clients
	if p != PartitionByTenant {
		return base
	}
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		tp := base.ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			tenant, _, err := ParseKey(r.Key)
			if err != nil {
				return tp.Partition(r, n)
			}
			return tp.Partition(&kgo.Record{Topic: r.Topic, Key: []byte(tenant)}, n)
		}
	})
}
