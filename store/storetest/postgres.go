package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns a DSN for a new, empty schema of the test database
// named by RAGPIPE_TEST_POSTGRES, dropped when the test ends, so that
// tests and runs never share tables. Without the variable the test is
// skipped, or fails when RAGPIPE_REQUIRE_POSTGRES is set (as `make test`
// does).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("RAGPIPE_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("RAGPIPE_REQUIRE_POSTGRES") != "" {
			t.Fatal("RAGPIPE_TEST_POSTGRES is not set but RAGPIPE_REQUIRE_POSTGRES is: run `make test` (or scripts/postgres.sh start DIR)")
		}
		t.Skip("RAGPIPE_TEST_POSTGRES not set; `make test` starts PostgreSQL and sets it")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to RAGPIPE_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		// The schemas of the location's index namespaces go too.
		rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", schema+"_ns_")
		if err != nil {
			t.Errorf("listing the namespace schemas of %s: %v", schema, err)
			return
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("listing the namespace schemas of %s: %v", schema, err)
		}
		for _, s := range append(names, schema) {
			if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("dropping schema %s: %v", s, err)
			}
		}
	})
	// The schema first, then public, where scripts/postgres.sh created the
	// vector extension.
	sp := "search_path=" + url.QueryEscape(schema+",public")
	if strings.Contains(base, "?") {
		return base + "&" + sp
	}
	return base + "?" + sp
}
