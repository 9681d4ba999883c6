package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// pipeTopic is the output topic of the bare consume → produce pipe.
const pipeTopic = "bench.pipe"

// cluster is the Kafka the harness runs against.
type cluster struct {
	brokers string
	dir     string // scripts/kafka.sh state, "" when the cluster is not ours
	script  string // scripts/kafka.sh of the repo that started it
	cl      *kgo.Client
	adm     *kadm.Client
}

// startKafka uses RAGPIPE_BENCH_BROKERS when set, else starts a one-node
// cluster with scripts/kafka.sh in a temporary folder.
func startKafka(ctx context.Context, repo string) (*cluster, error) {
	c := &cluster{brokers: os.Getenv("RAGPIPE_BENCH_BROKERS")}
	if c.brokers == "" {
		dir, err := os.MkdirTemp("", "ragpipe-bench-kafka-")
		if err != nil {
			return nil, err
		}
		c.dir, c.script = dir, filepath.Join(repo, "scripts", "kafka.sh")
		slog.Info("starting Kafka", "dir", dir)
		cmd := exec.CommandContext(ctx, "bash", c.script, "start", dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/kafka.sh start: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "RAGPIPE_TEST_BROKERS="); ok {
				c.brokers = v
			}
		}
		if c.brokers == "" {
			c.stop()
			return nil, errors.New("scripts/kafka.sh start printed no broker list")
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	c.cl, c.adm = cl, kadm.NewClient(cl)
	return c, nil
}

// stop stops the cluster if the harness started it.
func (c *cluster) stop() {
	if c.cl != nil {
		c.cl.Close()
	}
	if c.dir == "" {
		return
	}
	cmd := exec.Command("bash", c.script, "stop", c.dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		slog.Warn("stopping Kafka", "err", err)
	}
	_ = os.RemoveAll(c.dir)
}

// benchTopics are the topics a run uses.
func benchTopics() []string {
	return append(event.Topics(), pipeTopic)
}

// ensureTopics creates the topics (partitions each, replication factor 1)
// if they do not exist.
func (c *cluster) ensureTopics(ctx context.Context, partitions int32) error {
	res, err := c.adm.CreateTopics(ctx, partitions, 1, map[string]*string{"retention.ms": ptr("3600000")}, benchTopics()...)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating %s: %w", r.Topic, r.Err)
		}
	}
	// Wait until the metadata shows every partition with a leader.
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := c.adm.Metadata(ctx, benchTopics()...)
		ok := err == nil
		for _, t := range md.Topics {
			if t.Err != nil || len(t.Partitions) != int(partitions) {
				ok = false
			}
			for _, p := range t.Partitions {
				if p.Leader < 0 {
					ok = false
				}
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics not ready after 30s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// ends returns the end offset of every partition of topic.
func (c *cluster) ends(ctx context.Context, topic string) (map[int32]int64, error) {
	lo, err := c.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var ferr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = o.Err
		}
		out[o.Partition] = o.Offset
	})
	if ferr != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, ferr)
	}
	return out, nil
}

// startGroupAt commits offsets for a new group so that it starts reading
// topic at the given offsets (the start of a scenario's records).
func (c *cluster) startGroupAt(ctx context.Context, group, topic string, offs map[int32]int64) error {
	set := kadm.Offsets{}
	for p, o := range offs {
		set.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	res, err := c.adm.CommitOffsets(ctx, group, set)
	if err != nil {
		return fmt.Errorf("committing start offsets of %s: %w", group, err)
	}
	return res.Error()
}

// lag returns how many records of topic the group has not committed past.
func (c *cluster) lag(ctx context.Context, group, topic string) (int64, error) {
	end, err := c.ends(ctx, topic)
	if err != nil {
		return 0, err
	}
	fo, err := c.adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("offsets of %s: %w", group, err)
	}
	var lag int64
	for p, e := range end {
		at := int64(0)
		if o, ok := fo.Lookup(topic, p); ok && o.Err == nil && o.At >= 0 {
			at = o.At
		}
		lag += max(0, e-at)
	}
	return lag, nil
}
