package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ragpipe/ragpipe/store/storetest"
)

// The whole pipeline on real Kafka with the index in PostgreSQL
// (pgvector): every chunk lands in the table as the searchable version of
// its document, `search --store postgres://…` finds the right documents,
// another tenant sees nothing, and `ragpipe delete` removes a document.
func TestPipelineOnKafkaWithPostgres(t *testing.T) {
	brokers := kafkaBrokers(t)
	dsn := storetest.PostgresDSN(t)
	resetTopics(t, brokers)
	docs, chunks := testPipeline(t, brokers, "--store", dsn)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, searchable, live, versions int
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE searchable),
		(SELECT count(*) FROM documents), count(DISTINCT (doc_id, doc_version)) FROM chunks`).Scan(&rows, &searchable, &live, &versions)
	if err != nil {
		t.Fatal(err)
	}
	if rows != chunks || searchable != chunks || live != docs || versions != docs {
		t.Fatalf("postgres holds %d chunks (%d searchable) of %d versions, %d live documents; want %d chunks of %d documents",
			rows, searchable, versions, live, chunks, docs)
	}

	out := mustRun(t, time.Minute, "search", "--store", dsn, "--json", "--min-score", "0.2", "--k", "10", "zebrafish aquarium larvae")
	var res struct {
		Hits []struct {
			DocID string  `json:"doc_id"`
			Score float32 `json:"score"`
		} `json:"hits"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("search --json: %v\n%s", err, out)
	}
	if len(res.Hits) == 0 || !strings.HasSuffix(res.Hits[0].DocID, "extra/zebrafish.md") {
		t.Fatalf("search --json: want extra/zebrafish.md first:\n%s", out)
	}
	for _, h := range res.Hits {
		if h.Score < 0.2 {
			t.Fatalf("--min-score 0.2 kept a hit scoring %.3f", h.Score)
		}
	}
	zebrafish := res.Hits[0].DocID
	out = mustRun(t, time.Minute, "search", "--store", dsn, "--json", "--tenant", "someone-else", "zebrafish aquarium larvae")
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Hits) != 0 {
		t.Fatalf("another tenant found chunks: %v\n%s", err, out)
	}

	// `ragpipe delete` through a running index: the document leaves the
	// index, the others stay.
	indexP := start(t, "index", "index", "--brokers", brokers, "--group", "it-index", "--store", dsn)
	mustRun(t, time.Minute, "delete", "--brokers", brokers, zebrafish)
	var left int
	waitFor(t, time.Minute, "the delete to reach the index", func() bool {
		err := conn.QueryRow(ctx, "SELECT count(*) FROM chunks WHERE doc_id = $1", zebrafish).Scan(&left)
		return err == nil && left == 0
	})
	indexP.stop(20 * time.Second)
	out = mustRun(t, time.Minute, "search", "--store", dsn, "--json", "--k", "50", "zebrafish aquarium larvae")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Hits {
		if h.DocID == zebrafish {
			t.Fatalf("deleted %s is still found:\n%s", zebrafish, out)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM chunks").Scan(&rows); err != nil || rows >= chunks {
		t.Fatalf("after the delete %d of %d chunks remain (%v)", rows, chunks, err)
	}
	if len(res.Hits) == 0 {
		t.Fatal("the delete emptied the index")
	}
}
