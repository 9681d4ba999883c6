package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
)

func modelServer(t *testing.T, status int, ids ...string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" || status != http.StatusOK {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		var data []string
		for _, id := range ids {
			data = append(data, fmt.Sprintf(`{"id":%q,"object":"model"}`, id))
		}
		fmt.Fprintf(w, `{"object":"list","data":[%s]}`, strings.Join(data, ","))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func TestEmbedTakesTheServersOnlyModel(t *testing.T) {
	ctx := context.Background()
	one := modelServer(t, http.StatusOK, "bge-small")
	ef := embedderFlags{embedders: []string{one, one}}
	em, err := ef.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if em.Model() != "bge-small" {
		t.Fatalf("model %q", em.Model())
	}

	several := modelServer(t, http.StatusOK, "bge-small", "e5-large")
	_, err = (&embedderFlags{embedders: []string{several}}).open(ctx)
	if err == nil || !strings.Contains(err.Error(), "bge-small, e5-large") || !strings.Contains(err.Error(), "--model") {
		t.Fatalf("several models: %v", err)
	}
	for _, url := range []string{modelServer(t, http.StatusOK), modelServer(t, http.StatusNotFound)} {
		_, err = (&embedderFlags{embedders: []string{url}}).open(ctx)
		if err == nil || !strings.Contains(err.Error(), "a model name is required") || !strings.Contains(err.Error(), "--model") {
			t.Fatalf("no model list at %s: %v", url, err)
		}
	}
	// --model wins over the list; hash needs none.
	em, err = (&embedderFlags{embedders: []string{several}, model: "e5-large"}).open(ctx)
	if err != nil || em.Model() != "e5-large" {
		t.Fatalf("explicit model: %v", err)
	}
}

func TestGpusimListsItsModel(t *testing.T) {
	ctx := context.Background()
	srv, err := gpusim.Start(ctx, gpusim.Config{Addr: "127.0.0.1:0", Model: "sim-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := embed.DiscoverModel(ctx, embed.Spec{Embedder: srv.URL()})
	if err != nil || m != "sim-1" {
		t.Fatalf("model %q, %v", m, err)
	}
}
