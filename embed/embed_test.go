package embed

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	e, err := Open(Spec{Embedder: "hash"})
	if err != nil || e.Model() != "hash-384" {
		t.Fatalf("hash: %v %v", e, err)
	}
	e, err = Open(Spec{Embedder: "hash", Dim: 64, Model: "hash-64"})
	if err != nil || e.(*Hash).Dim() != 64 {
		t.Fatalf("hash-64: %v %v", e, err)
	}
	e, err = New("http://127.0.0.1:8081/v1", "bge-small")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := e.(*OpenAI); !ok || o.Model() != "bge-small" || o.endpoint != "http://127.0.0.1:8081/v1/embeddings" {
		t.Fatalf("openai: %#v", e)
	}
	for _, bad := range []Spec{
		{},
		{Embedder: "hash", Model: "bge"},
		{Embedder: "hash", Dim: -1},
		{Embedder: "http://127.0.0.1:8081/v1"},
		{Embedder: "127.0.0.1:8081", Model: "m"},
		{Embedder: "grpc://x", Model: "m"},
		{Embedder: "http://x/v1", Model: "m", Timeout: -time.Second},
	} {
		if _, err := Open(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestOpenAPIKeyFromEnvironment(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Getenv: env(map[string]string{EnvAPIKey: "a", EnvOpenAIAPIKey: "b"})}, "a"},
		{Spec{Getenv: env(map[string]string{EnvOpenAIAPIKey: "b"})}, "b"},
		{Spec{Getenv: env(map[string]string{})}, ""},
		{Spec{APIKeyEnv: "MY_KEY", Getenv: env(map[string]string{"MY_KEY": "c", EnvAPIKey: "a"})}, "c"},
		{Spec{APIKeyEnv: "MY_KEY", Getenv: env(map[string]string{EnvAPIKey: "a"})}, ""},
		{Spec{APIKey: "d", Getenv: env(map[string]string{EnvAPIKey: "a"})}, "d"},
	} {
		tc.spec.Embedder, tc.spec.Model = "https://api.example.invalid/v1", "m"
		e, err := Open(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.(*OpenAI).cfg.APIKey; got != tc.want {
			t.Errorf("key %q, want %q", got, tc.want)
		}
	}
}

func TestOpenUsesProcessEnvironmentByDefault(t *testing.T) {
	t.Setenv(EnvAPIKey, "from-env")
	var auth string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		okHandler(2)(w, r)
	})
	e, err := Open(Spec{Embedder: srv.URL + "/v1", Model: "m", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAPIKey, "changed") // read at Open, not later
	if _, err := e.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(auth, "from-env") {
		t.Fatalf("Authorization %q", auth)
	}
}
