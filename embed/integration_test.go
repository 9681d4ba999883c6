package embed_test

import (
	"log/slog"
	"testing"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
	"github.com/ragpipe/ragpipe/fault"
)

// A query embedded in process with "hash" must match documents embedded
// through the simulated GPU server.
func TestHashAndGpusimAgree(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	srv, err := gpusim.Start(t.Context(), gpusim.Config{Dim: 128, MaxBatch: 8, PoisonMarker: "\x00poison", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	remote, err := embed.Open(embed.Spec{Embedder: srv.URL(), Model: "hash-128", Dim: 128, MaxInputs: 8, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	local, err := embed.Open(embed.Spec{Embedder: "hash", Dim: 128})
	if err != nil {
		t.Fatal(err)
	}
	if remote.Model() != local.Model() {
		t.Fatalf("models %q and %q", remote.Model(), local.Model())
	}
	docs := make([]string, 20)
	for i := range docs {
		docs[i] = "chunk " + string(rune('a'+i)) + " of a document about retrieval"
	}
	rv, err := remote.Embed(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	lv, _ := local.Embed(t.Context(), docs)
	for i := range docs {
		for j := range lv[i] {
			if rv[i][j] != lv[i][j] {
				t.Fatalf("doc %d differs at %d", i, j)
			}
		}
	}

	docs[13] += "\x00poison"
	_, err = remote.Embed(t.Context(), docs)
	if fault.ClassOf(err) != fault.ClassRecord || fault.IndexOf(err) != 13 {
		t.Fatalf("poison: %v", err)
	}
}
