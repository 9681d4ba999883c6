package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ragpipe/ragpipe/store"
	"github.com/ragpipe/ragpipe/store/storetest"
)

// Migrations run once per schema; data survives a reopen; a reader needs
// a migrated schema and cannot write.
func TestPostgresMigrationsReopenAndReadOnly(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	if _, err := store.Open(ctx, dsn, true); err == nil || !strings.Contains(err.Error(), "no index") {
		t.Fatalf("a reader on an empty schema: want a no-index error, got %v", err)
	}
	s, err := store.Open(ctx, dsn, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(ctx, []store.Chunk{storetest.C("t", "a", 1, 0, 1, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.Open(ctx, dsn, false) // migrations already applied
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := store.Open(ctx, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if hits, err := r.Search(ctx, "t", []float32{1, 0}, 3); err != nil || len(hits) != 1 {
		t.Fatalf("reader search: %v %+v", err, hits)
	}
	if err := r.Upsert(ctx, []store.Chunk{storetest.C("t", "b", 1, 0, 1, 1, 0)}); err == nil {
		t.Fatal("a read-only store took an upsert")
	}
	if err := r.FailVersion(ctx, "t", "a", 1, ""); err == nil {
		t.Fatal("a read-only store removed a version")
	}
	if strings.Contains(r.Describe(), "password") || !strings.HasPrefix(r.Describe(), "postgres://") {
		t.Fatalf("describe: %s", r.Describe())
	}

	conn := connect(t, dsn)
	var versions int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil || versions != 4 {
		t.Fatalf("schema_migrations: %d rows, %v", versions, err)
	}
	// A schema from a newer ragpipe is refused, not mangled.
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, dsn, false); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("want a newer-schema error, got %v", err)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// With enough rows the tenant-filtered search runs on the HNSW index
// (cosine) and still returns k hits of the tenant only.
func TestPostgresSearchUsesHNSW(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	s, err := store.Open(ctx, dsn, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const dim = 32
	rng := rand.New(rand.NewPCG(1, 2))
	for b := range 10 {
		var cs []store.Chunk
		for i := range 500 {
			v := make([]float32, dim)
			for j := range v {
				v[j] = rng.Float32() - 0.5
			}
			tenant := "big"
			if i%10 == 0 {
				tenant = "small"
			}
			cs = append(cs, storetest.C(tenant, fmt.Sprintf("d%d-%d", b, i), 1, 0, 1, v...))
		}
		if err := s.Upsert(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, "ANALYZE chunks"); err != nil {
		t.Fatal(err)
	}
	q := make([]float32, dim)
	q[0] = 1
	var plan strings.Builder
	rows, err := conn.Query(ctx, `EXPLAIN SELECT doc_id FROM chunks WHERE tenant_id = 'small' AND searchable
		ORDER BY embedding <=> $1::text::vector LIMIT 10`, vecText(q))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if !strings.Contains(plan.String(), "chunks_embedding_hnsw") {
		t.Fatalf("the search does not use the HNSW index:\n%s", plan.String())
	}
	hits, err := s.Search(ctx, "small", q, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 10 {
		t.Fatalf("want 10 hits of the small tenant (iterative scan), got %d", len(hits))
	}
	for i, h := range hits {
		if h.TenantID != "small" || (i > 0 && h.Score > hits[i-1].Score) {
			t.Fatalf("hits %+v", hits)
		}
	}
}

func vecText(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Two writers on one document (two index workers during a rebalance):
// one completes new versions while the other replays chunks of older
// ones. Searches never mix versions and nothing stale is left behind.
func TestPostgresTwoWritersOneDocument(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	open := func() store.Store {
		s, err := store.Open(ctx, dsn, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	const chunks, last = 4, 30
	version := func(v int64) []store.Chunk {
		var cs []store.Chunk
		for i := range int32(chunks) {
			cs = append(cs, storetest.C("t", "doc", v, i, chunks, 1, float32(i), float32(v)))
		}
		return cs
	}
	if err := a.Upsert(ctx, version(1)); err != nil {
		t.Fatal(err)
	}
	var (
		cur  atomic.Int64
		wg   sync.WaitGroup
		errc = make(chan error, 3)
	)
	cur.Store(1)
	stop := make(chan struct{})
	wg.Add(2)
	go func() { // replays of the live version, late once the next completes
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			cs := version(cur.Load())
			if err := b.Upsert(ctx, cs[:2]); err != nil {
				errc <- err
				return
			}
			if err := b.Upsert(ctx, cs[2:]); err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() { // searches
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			hits, err := b.Search(ctx, "t", []float32{1, 1, 1}, 50)
			if err != nil {
				errc <- err
				return
			}
			vs := map[int64]int{}
			for _, h := range hits {
				vs[h.DocVersion]++
			}
			for v, n := range vs {
				if len(vs) != 1 || n != chunks {
					errc <- fmt.Errorf("search saw versions %v (version %d)", vs, v)
					return
				}
			}
		}
	}()
	for v := int64(2); v <= last; v++ {
		cs := version(v)
		if err := a.Upsert(ctx, cs[:3]); err != nil {
			t.Fatal(err)
		}
		if err := a.Upsert(ctx, cs[3:]); err != nil {
			t.Fatal(err)
		}
		cur.Store(v)
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	var rows, searchable, minV int
	err := connect(t, dsn).QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE searchable), coalesce(min(doc_version), 0) FROM chunks").Scan(&rows, &searchable, &minV)
	if err != nil {
		t.Fatal(err)
	}
	if rows != chunks || searchable != chunks || minV != last {
		t.Fatalf("left %d rows (%d searchable, oldest version %d), want %d of version %d", rows, searchable, minV, chunks, last)
	}
}
