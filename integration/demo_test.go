package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `ragpipe demo`, the first Quick start command, on its embedded broker:
// it exits 0, indexes every chunk it ingested, answers its sample queries,
// and leaves a store that `ragpipe search --data` and `reembed --list`
// read afterwards, with the embedder's model recorded in its namespace.
func TestDemoIndexesEverythingAndLeavesASearchableStore(t *testing.T) {
	data := t.TempDir()
	out := mustRun(t, 3*time.Minute, "demo", "--data", data)
	ing := regexp.MustCompile(`ingest\s+(\d+) documents, (\d+) chunks from .* \((\d+) failed\)`).FindStringSubmatch(out)
	done := regexp.MustCompile(`done\s+(\d+) chunks indexed`).FindStringSubmatch(out)
	if ing == nil || done == nil {
		t.Fatalf("demo output without its ingest and done lines:\n%s", out)
	}
	docs, _ := strconv.Atoi(ing[1])
	if docs == 0 || ing[3] != "0" || ing[2] != done[1] {
		t.Fatalf("ingested %s documents, %s chunks (%s failed); indexed %s chunks:\n%s", ing[1], ing[2], ing[3], done[1], out)
	}
	if n := strings.Count(out, "result(s)"); n < 3 {
		t.Fatalf("%d sample searches answered, want 3:\n%s", n, out)
	}
	if strings.Contains(out, ": 0 result(s)") {
		t.Fatalf("a sample search found nothing:\n%s", out)
	}
	hits := mustRun(t, time.Minute, "search", "--data", data, "--json", "consumer lag")
	if !strings.Contains(hits, `"doc_id"`) {
		t.Fatalf("search after the demo found nothing: %s", hits)
	}
	list := mustRun(t, time.Minute, "reembed", "--list", "--data", data)
	if !regexp.MustCompile(`default\s+hash-\d+\s+\d+\s+active\s+` + done[1]).MatchString(list) {
		t.Fatalf("the demo's namespace does not hold its model and %s chunks:\n%s", done[1], list)
	}
}
