package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// exitCode returns the process exit code of err (0 for nil).
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("not an exit error: %v", err)
	}
	return ee.ExitCode()
}

type statusJSON struct {
	Groups []struct {
		Name    string `json:"name"`
		Members []struct {
			ClientID string `json:"client_id"`
		} `json:"members"`
	} `json:"groups"`
	Hot []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
	} `json:"hot_partitions"`
	DLQ struct {
		Total   int64            `json:"total"`
		ByStage map[string]int64 `json:"by_stage"`
	} `json:"dlq"`
	Failed []struct {
		Doc string `json:"doc"`
	} `json:"recent_failed"`
	Stale []struct {
		Group   string `json:"group"`
		Command string `json:"command"`
	} `json:"stale_groups"`
	NeedsAttention []string `json:"needs_attention"`
}

func status(t *testing.T, brokers string, args ...string) (statusJSON, int, string) {
	t.Helper()
	out, errs, err := run(t, time.Minute, append([]string{"status", "--brokers", brokers, "--json", "--interval", "300ms"}, args...)...)
	var s statusJSON
	if jerr := json.Unmarshal([]byte(out), &s); jerr != nil {
		t.Fatalf("status --json: %v\n%s\n%s", jerr, out, errs)
	}
	return s, exitCode(t, err), out
}

// `status` flags a planted hot partition, a planted stale group (its
// commit is below the log start) and a dead letter, exits 3, and
// --delete-stale removes the stale group.
func TestStatusFlagsHotStaleAndDLQ(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	ctx := context.Background()
	cl := client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p, n := range map[int32]int{0: 100, 1: 10, 2: 10} {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: event.TopicParsed, Partition: p, Key: []byte("t/d" + strconv.Itoa(i)), Value: []byte("x")})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s, code, out := status(t, brokers)
	if code != 3 || len(s.NeedsAttention) != 1 || len(s.Hot) != 1 || s.Hot[0].Topic != event.TopicParsed || s.Hot[0].Partition != 0 {
		t.Fatalf("want only partition 0 of %s hot (exit 3): exit %d\n%s", event.TopicParsed, code, out)
	}

	// Stale: a group without members whose commit is below the log start.
	adm := kadm.NewClient(cl)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: event.TopicParsed, Partition: 1, At: 5, LeaderEpoch: -1})
	if _, err := adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: event.TopicParsed, Partition: 1, At: 2, LeaderEpoch: -1})
	if res, err := adm.CommitOffsets(ctx, "it-stale", commit); err != nil || res.Error() != nil {
		t.Fatalf("commit: %v %v", err, res.Error())
	}
	// A dead letter.
	in, err := event.NewRecord(event.TopicParsed, event.Key("t", "dead.md"), parsedChunk("t", "dead.md", "text"))
	if err != nil {
		t.Fatal(err)
	}
	dl := event.DeadLetter(in, event.TopicDLQ, event.DeadLetterInfo{Stage: "embed", ErrorClass: "record", ErrorMessage: "planted", Attempts: 3})
	if err := client(t, brokers).ProduceSync(ctx, dl).FirstErr(); err != nil {
		t.Fatal(err)
	}

	s, code, out = status(t, brokers)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, out)
	}
	if s.DLQ.Total != 1 || s.DLQ.ByStage["embed"] != 1 {
		t.Fatalf("DLQ depth %+v\n%s", s.DLQ, out)
	}
	if len(s.Stale) != 1 || s.Stale[0].Group != "it-stale" || !strings.Contains(s.Stale[0].Command, "--delete --group it-stale") {
		t.Fatalf("stale groups %+v\n%s", s.Stale, out)
	}
	if len(s.Hot) != 1 {
		t.Fatalf("hot %+v", s.Hot)
	}
	table, _, err := run(t, time.Minute, "status", "--brokers", brokers, "--interval", "300ms")
	if exitCode(t, err) != 3 || !strings.Contains(table, "ATTENTION") || !strings.Contains(table, "it-stale") {
		t.Fatalf("table:\n%s", table)
	}

	_, _, _ = run(t, time.Minute, "status", "--brokers", brokers, "--interval", "300ms", "--delete-stale")
	s, _, out = status(t, brokers)
	if len(s.Stale) != 0 {
		t.Fatalf("stale group not deleted:\n%s", out)
	}
}

// A document fails (gpusim rejects it), is dead-lettered, shows in
// `status` and `dlq list`; with the server fixed, `dlq replay` sends it
// back and it is embedded, indexed and found by search. A record already
// replayed --max-replays times is refused.
func TestDLQReplayIsEmbeddedAndIndexed(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	docs := t.TempDir()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(docs, "good.md"), []byte("# Bread\n\nSourdough starter bread rises overnight.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Four chunks; the third is poisoned.
	bad := "# Fish\n\nZebrafish aquarium larvae swim in warm clean water all day long.\n\n" +
		"The larvae grow quickly when they are fed small live food twice daily.\n\n" +
		"Poisoned paragraph XPOISONX that the simulated server refuses to embed at all.\n\n" +
		"Adult zebrafish breed in the morning when the aquarium lights switch on.\n"
	if err := os.WriteFile(filepath.Join(docs, "bad.md"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another failing document, in a folder of its own, to be re-ingested.
	docs2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(docs2, "again.md"), []byte("# Knots\n\nBowline knots XPOISONX hold fast.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	gpu := start(t, "gpusim", "gpusim", "--addr", addr, "--poison", "XPOISONX")
	waitFor(t, 10*time.Second, "gpusim", func() bool { return strings.Contains(gpu.stdout.String(), "listening") })
	url := "http://" + addr + "/v1"
	start(t, "embed", "embed", "--brokers", brokers, "--group", "it-dlq", "--embedder", url, "--model", "hash-384")
	start(t, "index", "index", "--brokers", brokers, "--group", "it-dlq-index", "--data", data)
	ingested := mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "24", "--overlap", "0", docs, docs2)
	if _, chunks := parseIngested(t, ingested); chunks < 6 {
		t.Fatalf("want bad.md in several chunks: %s", ingested)
	}
	readTopic(t, brokers, event.TopicDLQ, time.Minute, atLeast(2))
	readTopic(t, brokers, event.TopicIndexed, time.Minute, atLeast(1)) // good.md

	s, code, out := status(t, brokers)
	if code != 3 || s.DLQ.ByStage["embed"] != 2 || len(s.Failed) != 2 {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	list := mustRun(t, time.Minute, "dlq", "list", "--brokers", brokers, "--stage", "embed", "--doc", "bad.md", "--since", "1h")
	if !strings.Contains(list, "default/bad.md") || !strings.Contains(list, "1 dead letter(s)") {
		t.Fatalf("dlq list:\n%s", list)
	}
	if none := mustRun(t, time.Minute, "dlq", "list", "--brokers", brokers, "--stage", "index"); !strings.Contains(none, "0 dead letter(s)") {
		t.Fatalf("dlq list --stage index:\n%s", none)
	}
	pos := strings.Fields(list)[0]
	show := mustRun(t, time.Minute, "dlq", "show", "--brokers", brokers, pos)
	for _, want := range []string{event.HeaderDLQErrorClass, event.HeaderIngestID, "ragpipe.v1.ChunkParsed", "XPOISONX"} {
		if !strings.Contains(show, want) {
			t.Fatalf("dlq show lacks %q:\n%s", want, show)
		}
	}
	dry := mustRun(t, time.Minute, "dlq", "replay", "--brokers", brokers, "--dry-run", "--doc", "bad.md")
	if !strings.Contains(dry, "would replay 1") || !strings.Contains(dry, "skipped by filter 1") {
		t.Fatalf("dry run:\n%s", dry)
	}

	// Fix the server, then replay.
	gpu.stop(10 * time.Second)
	gpu2 := start(t, "gpusim-fixed", "gpusim", "--addr", addr)
	waitFor(t, 10*time.Second, "gpusim", func() bool { return strings.Contains(gpu2.stdout.String(), "listening") })
	rep := mustRun(t, time.Minute, "dlq", "replay", "--brokers", brokers, "--rate", "10", "--doc", "bad.md")
	if !strings.Contains(rep, "replayed 1, refused 0") || !strings.Contains(rep, "with them 3 other chunk(s)") {
		t.Fatalf("replay (the dead letter and its version's 3 other chunks):\n%s", rep)
	}
	// DocumentIndexed means every chunk of the version is in the store.
	readTopic(t, brokers, event.TopicIndexed, time.Minute, func(rs []*kgo.Record) bool {
		for _, r := range rs {
			if m, err := event.DecodeDocumentIndexed(r); err == nil && m.GetDocId() == "bad.md" && m.GetChunkCount() == 4 {
				return true
			}
		}
		return false
	})
	embedded := readTopic(t, brokers, event.TopicEmbedded, 10*time.Second, atLeast(2))
	replayed := false
	for _, r := range embedded {
		if n := event.ReplayCount(r); n == 1 && strings.HasSuffix(string(r.Key), "/bad.md") {
			replayed = true
		}
	}
	if !replayed {
		t.Fatal("no embedded chunk of bad.md carries the replay header")
	}
	found := mustRun(t, time.Minute, "search", "--data", data, "--k", "1", "zebrafish aquarium larvae")
	if !strings.Contains(found, "bad.md") {
		t.Fatalf("the replayed document is not searchable:\n%s", found)
	}
	// A fresh ingest of the other failed file, unchanged (same version), is
	// processed too.
	mustRun(t, time.Minute, "ingest", "--brokers", brokers, docs2)
	readTopic(t, brokers, event.TopicIndexed, time.Minute, func(rs []*kgo.Record) bool {
		for _, r := range rs {
			if m, err := event.DecodeDocumentIndexed(r); err == nil && m.GetDocId() == "again.md" {
				return true
			}
		}
		return false
	})
	found = mustRun(t, time.Minute, "search", "--data", data, "--k", "1", "bowline knots")
	if !strings.Contains(found, "again.md") {
		t.Fatalf("the re-ingested document is not searchable:\n%s", found)
	}

	// The loop guard: a dead letter already replayed 3 times is refused.
	loop := event.DeadLetter(withHeader(t, "loop.md", event.HeaderReplayCount, "3"), event.TopicDLQ,
		event.DeadLetterInfo{Stage: "embed", ErrorClass: "record", ErrorMessage: "again", Attempts: 3})
	if err := client(t, brokers).ProduceSync(context.Background(), loop).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out, errs, err := run(t, time.Minute, "dlq", "replay", "--brokers", brokers, "--doc", "loop.md", "--max-replays", "3")
	if exitCode(t, err) != 3 || !strings.Contains(out, "replayed 0, refused 1") || !strings.Contains(errs, "replayed 3 times already") {
		t.Fatalf("loop guard: %v\n%s\n%s", err, out, errs)
	}
	if !strings.Contains(out, "skipped by filter 2") {
		t.Fatalf("the bad.md dead letter should be skipped by --doc:\n%s", out)
	}

	// Purge needs --yes without a terminal, then empties the queue.
	if _, _, err := run(t, time.Minute, "dlq", "purge", "--brokers", brokers, "--all"); exitCode(t, err) != 1 {
		t.Fatalf("purge without --yes: %v", err)
	}
	if out := mustRun(t, time.Minute, "dlq", "purge", "--brokers", brokers, "--all", "--yes"); !strings.Contains(out, "deleted 3 dead letter(s)") {
		t.Fatalf("purge:\n%s", out)
	}
	if out := mustRun(t, time.Minute, "dlq", "list", "--brokers", brokers); !strings.Contains(out, "0 dead letter(s)") {
		t.Fatalf("after purge:\n%s", out)
	}
}

func withHeader(t *testing.T, doc, key, value string) *kgo.Record {
	t.Helper()
	r, err := event.NewRecord(event.TopicParsed, event.Key("default", doc), parsedChunk("default", doc, "loop text"))
	if err != nil {
		t.Fatal(err)
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
	return r
}

// `replay --to-time` moves a stopped group back to a point in time, and
// the next embed run re-emits exactly the records after it; it refuses
// while the group has members.
func TestReplayToTimeReprocesses(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	before, after := t.TempDir(), t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(before, "a"+strconv.Itoa(i)+".md"), []byte("# A\n\nOld text "+strconv.Itoa(i)+".\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(after, "b"+strconv.Itoa(i)+".md"), []byte("# B\n\nNew text "+strconv.Itoa(i)+".\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, time.Minute, "ingest", "--brokers", brokers, before)
	time.Sleep(1500 * time.Millisecond)
	cut := time.Now().UTC()
	time.Sleep(500 * time.Millisecond)
	mustRun(t, time.Minute, "ingest", "--brokers", brokers, after)

	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-rt")
	readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(6))
	_, errs, err := run(t, time.Minute, "replay", "--brokers", brokers, "--group", "it-rt", "--topic", event.TopicParsed, "--to-time", cut.Format(time.RFC3339Nano))
	if err == nil || !strings.Contains(errs, "members") {
		t.Fatalf("replay of a running group should be refused: %v\n%s", err, errs)
	}
	embedP.stop(30 * time.Second)

	plan := mustRun(t, time.Minute, "replay", "--brokers", brokers, "--group", "it-rt", "--topic", event.TopicParsed, "--to-time", cut.Format(time.RFC3339Nano), "--dry-run", "--json")
	var p struct {
		Partitions []struct{ Current, New int64 } `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(plan), &p); err != nil {
		t.Fatal(err, plan)
	}
	moved := int64(0)
	for _, x := range p.Partitions {
		moved += x.Current - x.New
	}
	if moved != 3 {
		t.Fatalf("the plan should move back over the 3 records after the cut: %s", plan)
	}
	mustRun(t, time.Minute, "replay", "--brokers", brokers, "--group", "it-rt", "--topic", event.TopicParsed, "--to-time", cut.Format(time.RFC3339Nano))
	start(t, "embed-again", "embed", "--brokers", brokers, "--group", "it-rt")
	recs := readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(9))
	time.Sleep(time.Second)
	recs = readTopic(t, brokers, event.TopicEmbedded, 3*time.Second, atLeast(len(recs)+1))
	if len(recs) != 9 {
		t.Fatalf("%d embedded records, want 6 + 3 re-processed", len(recs))
	}
	seen := map[string]int{}
	for _, r := range recs {
		m, err := event.DecodeChunkEmbedded(r)
		if err != nil {
			t.Fatal(err)
		}
		seen[m.GetDocId()]++
	}
	for doc, n := range seen {
		if want := map[bool]int{true: 2, false: 1}[strings.HasPrefix(doc, "b")]; n != want {
			t.Fatalf("%s embedded %d times, want %d (only documents after the cut are re-processed): %v", doc, n, want, seen)
		}
	}
}

func parsedChunk(tenant, doc, text string) *ragpipev1.ChunkParsed {
	return &ragpipev1.ChunkParsed{TenantId: tenant, DocId: doc, DocVersion: 1, ChunkIndex: 0, ChunkCount: 1, Text: text, ContentHash: "h"}
}

// A group without members whose commits cover only records older than the
// topic's retention.ms is stale too.
func TestStatusFlagsGroupOlderThanRetention(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "1", "--replication-factor", "1", "--retention-ms", "1000")
	ctx := context.Background()
	cl := client(t, brokers)
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: event.TopicParsed, Key: []byte("t/d" + strconv.Itoa(i)), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: event.TopicParsed, Partition: 0, At: 5, LeaderEpoch: -1})
	if res, err := kadm.NewClient(cl).CommitOffsets(ctx, "it-old", commit); err != nil || res.Error() != nil {
		t.Fatalf("commit: %v %v", err, res.Error())
	}
	time.Sleep(1500 * time.Millisecond)
	s, code, out := status(t, brokers)
	if code != 3 || len(s.Stale) != 1 || s.Stale[0].Group != "it-old" {
		t.Fatalf("want it-old stale (older than retention), exit 3: exit %d\n%s", code, out)
	}
}
