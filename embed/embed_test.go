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

func TestOpenTEI(t *testing.T) {
	url := startTEI(t, &fakeTEI{info: teiInfoJSON})
	e, err := Open(Spec{Embedder: "tei+" + url, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := e.(*TEI)
	if !ok || c.Model() != "BAAI/bge-small-en-v1.5" || c.URL() != url+"/embed" || c.MaxInputs() != 3 || c.MaxInputTokens() != 512 {
		t.Fatalf("tei: %#v", e)
	}
	e, err = Open(Spec{Embedder: "TEI+" + url, Model: "bge", MaxInputs: 2, MaxInputTokens: 9, Dim: 4, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.(*TEI); c.Model() != "bge" || c.MaxInputs() != 2 || c.MaxInputTokens() != 9 || c.Dimensions() != 4 {
		t.Fatalf("tei: %#v", c)
	}
	e, err = Open(Spec{Embedder: "http://127.0.0.1:8081/v1", Model: "m", MaxInputTokens: 7})
	if err != nil || e.(*OpenAI).cfg.MaxInputTokens != 7 {
		t.Fatalf("openai: %v %v", e, err)
	}
	for _, bad := range []Spec{
		{Embedder: "tei+"},
		{Embedder: "tei+grpc://x"},
		{Embedder: "tei+127.0.0.1:8080"},
		{Embedder: "tei+http://x", MaxInputTokens: -1},
		{Embedder: "http://x/v1", Model: "m", MaxInputTokens: -1},
	} {
		if _, err := Open(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestOpenAll(t *testing.T) {
	if _, err := OpenAll(nil); err == nil {
		t.Fatal("no specs")
	}
	e, err := OpenAll([]Spec{{Embedder: "hash"}})
	if _, ok := e.(*Hash); err != nil || !ok {
		t.Fatalf("one hash: %T %v", e, err)
	}
	e, err = OpenAll([]Spec{{Embedder: "http://127.0.0.1:8081/v1", Model: "m", Logger: quietLogger}})
	if p, ok := e.(*Pool); err != nil || !ok || len(p.Health()) != 1 || p.Model() != "m" {
		t.Fatalf("one remote: %T %v", e, err)
	}
	e, err = OpenAll([]Spec{
		{Embedder: "http://127.0.0.1:8081/v1", Model: "m"},
		{Embedder: "http://127.0.0.1:8082/v1", Model: "m"},
	})
	if p, ok := e.(*Pool); err != nil || !ok || p.Health()[1].Name != "http://127.0.0.1:8082/v1/embeddings" {
		t.Fatalf("two remotes: %T %v", e, err)
	}
	if _, err := OpenAll([]Spec{{Embedder: "hash"}, {Embedder: "hash", Dim: 64}}); err == nil {
		t.Fatal("different models")
	}
	if _, err := OpenAll([]Spec{{Embedder: "hash"}, {Embedder: "bogus"}}); err == nil || !strings.Contains(err.Error(), "embedder 2 of 2 (bogus)") {
		t.Fatalf("bad spec: %v", err)
	}
	e, err = OpenAllWith([]Spec{{Embedder: "http://127.0.0.1:8081/v1", Model: "m", MaxInputs: 16, Logger: quietLogger}},
		PoolConfig{HedgeMultiplier: -1, HedgeFloor: time.Second})
	if p, ok := e.(*Pool); err != nil || !ok || p.cfg.HedgeMultiplier != -1 || p.cfg.HedgeFloor != time.Second ||
		p.Health()[0].BatchLimit != 16 {
		t.Fatalf("with a pool config: %T %v", e, err)
	}
	if _, err := OpenAllWith([]Spec{{Embedder: "http://127.0.0.1:8081/v1", Model: "m"}}, PoolConfig{HedgeBudget: 2}); err == nil {
		t.Fatal("invalid pool config accepted")
	}
}
