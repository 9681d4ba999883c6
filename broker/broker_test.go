package broker

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The embedded broker keeps topics and records in its data folder: they
// survive a restart on the same port.
func TestEmbeddedBrokerSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := StartEmbedded(EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	b, err = StartEmbedded(EmbeddedConfig{DataDir: dir, Port: p})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	recs := cl.PollFetches(pctx).Records()
	if len(recs) != 1 || string(recs[0].Value) != "kept" {
		t.Fatalf("after restart: %v", recs)
	}
	td, err := kadm.NewClient(cl).ListTopics(ctx, "t")
	if err != nil || len(td["t"].Partitions) != 3 {
		t.Fatalf("topic after restart: %v %v", td, err)
	}
}

// A broker that is down is a clear error within the timeout, not a hang.
func TestCheckFailsFastWhenDown(t *testing.T) {
	start := time.Now()
	err := Check(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}}, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot connect to Kafka at 127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %s", took)
	}
}
