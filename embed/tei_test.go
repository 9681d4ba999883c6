package embed

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// fakeTEI is a text-embeddings-inference server: GET /info and POST /embed.
type fakeTEI struct {
	info      string // /info body; "" = 404
	dim       int
	maxBatch  int // above: 413 like TEI; 0 = none
	embed     http.HandlerFunc
	mu        sync.Mutex
	sizes     []int // inputs per /embed request
	bodies    []map[string]any
	auth      string
	embedHits atomic.Int64
}

func (f *fakeTEI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/info":
		if f.info == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, f.info)
	case r.Method == http.MethodPost && r.URL.Path == "/embed":
		f.embedHits.Add(1)
		b, _ := io.ReadAll(r.Body)
		var req struct {
			Inputs []string `json:"inputs"`
		}
		var raw map[string]any
		_ = json.Unmarshal(b, &req)
		_ = json.Unmarshal(b, &raw)
		f.mu.Lock()
		f.sizes = append(f.sizes, len(req.Inputs))
		f.bodies = append(f.bodies, raw)
		f.auth = r.Header.Get("Authorization")
		f.mu.Unlock()
		if f.embed != nil {
			r.Body = io.NopCloser(bytes.NewReader(b))
			f.embed(w, r)
			return
		}
		if f.maxBatch > 0 && len(req.Inputs) > f.maxBatch {
			teiError(w, 413, "batch size "+itoa(len(req.Inputs))+" > maximum allowed batch size "+itoa(f.maxBatch), "Validation")
			return
		}
		out := make([][]float32, len(req.Inputs))
		for i, in := range req.Inputs {
			out[i] = fakeVec(in, f.dim)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func teiError(w http.ResponseWriter, status int, msg, typ string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // like TEI: "batch size 3 > maximum…"
	_ = enc.Encode(map[string]string{"error": msg, "error_type": typ})
}

func (f *fakeTEI) requestSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sizes...)
}

func startTEI(t *testing.T, f *fakeTEI) string {
	t.Helper()
	if f.dim == 0 {
		f.dim = 4
	}
	return serve(t, f.ServeHTTP).URL
}

func newTEI(t *testing.T, url string, mod func(*TEIConfig)) *TEI {
	t.Helper()
	cfg := TEIConfig{BaseURL: url, Timeout: 5 * time.Second, Logger: quietLogger}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewTEI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const teiInfoJSON = `{"model_id":"BAAI/bge-small-en-v1.5","model_sha":null,"model_dtype":"float16",
	"model_type":{"embedding":{"pooling":"cls"}},"max_concurrent_requests":512,"max_input_length":512,
	"max_batch_tokens":16384,"max_batch_requests":null,"max_client_batch_size":3,"auto_truncate":false,
	"tokenization_workers":4,"version":"1.5.0"}`

func TestTEIHappyPathAndInfoLimits(t *testing.T) {
	f := &fakeTEI{info: teiInfoJSON}
	url := startTEI(t, f)
	c := newTEI(t, url+"/", func(c *TEIConfig) { c.APIKey = "k" })
	if c.Model() != "BAAI/bge-small-en-v1.5" || c.MaxInputs() != 3 || c.MaxInputTokens() != 512 || c.URL() != url+"/embed" {
		t.Fatalf("model %q, max inputs %d, max tokens %d, url %s", c.Model(), c.MaxInputs(), c.MaxInputTokens(), c.URL())
	}
	vs, err := c.Embed(t.Context(), inputs(7))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if len(v) != 4 || v[0] != float32(i) {
			t.Fatalf("vector %d: %v", i, v)
		}
	}
	if got := f.requestSizes(); len(got) != 3 || got[0] != 3 || got[1] != 3 || got[2] != 1 {
		t.Fatalf("request sizes %v, want [3 3 1]", got)
	}
	body := f.bodies[0]
	if body["truncate"] != false || body["normalize"] != true || f.auth != "Bearer k" {
		t.Fatalf("body %v, auth %q", body, f.auth)
	}
	if c.Dimensions() != 4 {
		t.Fatalf("dimension %d not learned", c.Dimensions())
	}
	if vs, err := c.Embed(t.Context(), nil); err != nil || len(vs) != 0 {
		t.Fatalf("empty: %v %v", vs, err)
	}
}

func TestTEIConfigOverridesInfo(t *testing.T) {
	url := startTEI(t, &fakeTEI{info: teiInfoJSON})
	c := newTEI(t, url, func(c *TEIConfig) { c.Model, c.MaxInputs, c.MaxInputTokens = "bge", 10, 100 })
	if c.Model() != "bge" || c.MaxInputs() != 10 || c.MaxInputTokens() != 100 {
		t.Fatalf("model %q, max inputs %d, max tokens %d", c.Model(), c.MaxInputs(), c.MaxInputTokens())
	}
}

// logBuffer is a slog.Logger writing text to a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func TestTEIInfoUnavailable(t *testing.T) {
	f := &fakeTEI{} // no /info
	url := startTEI(t, f)
	var logs logBuffer
	c := newTEI(t, url, func(c *TEIConfig) { c.Model, c.Logger = "bge", logs.logger() })
	if c.Model() != "bge" || c.MaxInputs() != DefaultTEIMaxInputs || c.MaxInputTokens() != 0 {
		t.Fatalf("model %q, max inputs %d, max tokens %d", c.Model(), c.MaxInputs(), c.MaxInputTokens())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "/info") {
		t.Fatalf("no warning: %s", logs.String())
	}
	if _, err := c.Embed(t.Context(), []string{strings.Repeat("word ", 5000)}); err != nil {
		t.Fatalf("no token limit by default: %v", err)
	}

	// Without a model name, an unreadable /info is an error.
	if _, err := NewTEI(TEIConfig{BaseURL: url, Logger: quietLogger}); err == nil {
		t.Fatal("no error without a model")
	}
	// So are bad credentials.
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	if _, err := NewTEI(TEIConfig{BaseURL: srv.URL, Model: "m", Logger: quietLogger}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("401 on /info: %v", err)
	}
	// A hanging /info: defaults after the timeout.
	hung := serve(t, hang)
	start := time.Now()
	if c := newTEI(t, hung.URL, func(c *TEIConfig) { c.Model, c.Timeout = "m", 100*time.Millisecond }); c.MaxInputs() != DefaultTEIMaxInputs {
		t.Fatalf("max inputs %d", c.MaxInputs())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("NewTEI waited %s", d)
	}
	// Malformed /info: defaults.
	bad := startTEI(t, &fakeTEI{info: `<html>`})
	if c := newTEI(t, bad, func(c *TEIConfig) { c.Model = "m" }); c.MaxInputs() != DefaultTEIMaxInputs {
		t.Fatalf("max inputs %d", c.MaxInputs())
	}
}

func TestTEIConfigValidate(t *testing.T) {
	for _, bad := range []TEIConfig{
		{BaseURL: "127.0.0.1:8080"},
		{BaseURL: "http://x", MaxInputs: -1},
		{BaseURL: "http://x", MaxInputTokens: -1},
		{BaseURL: "http://x", Dimensions: -1},
		{BaseURL: "http://x", Timeout: -time.Second},
	} {
		if _, err := NewTEI(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestTEITokenLimitSendsNothing(t *testing.T) {
	f := &fakeTEI{info: `{"model_id":"m","max_input_length":8,"max_client_batch_size":2}`}
	c := newTEI(t, startTEI(t, f), nil)
	in := []string{"short one", "also short", "this one has far too many words to fit in eight tokens", "x"}
	_, err := c.Embed(t.Context(), in)
	wantClass(t, err, fault.ClassRecord, 2)
	if !errors.Is(err, ErrInputTooLong) || !strings.Contains(err.Error(), "input 2 has ~12 tokens, over the limit of 8") {
		t.Fatalf("error %v", err)
	}
	if n := f.embedHits.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestOpenAITokenLimitSendsNothing(t *testing.T) {
	var hits atomic.Int64
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		okHandler(2)(w, r)
	})
	c := newClient(t, srv.URL, func(c *Config) { c.MaxInputTokens, c.MaxInputs = 5, 2 })
	in := []string{"in0", "in1", "in2", "a b c d e f", "in4"}
	_, err := c.Embed(t.Context(), in)
	wantClass(t, err, fault.ClassRecord, 3)
	if !errors.Is(err, ErrInputTooLong) || hits.Load() != 0 {
		t.Fatalf("error %v, %d requests", err, hits.Load())
	}
	in[3] = "a b c d e"
	if _, err := c.Embed(t.Context(), in); err != nil || hits.Load() != 3 {
		t.Fatalf("at the limit: %v, %d requests", err, hits.Load())
	}
}

func TestTEILearnsBatchLimit(t *testing.T) {
	f := &fakeTEI{info: `{"model_id":"m","max_client_batch_size":8}`, maxBatch: 3}
	c := newTEI(t, startTEI(t, f), nil)
	vs, err := c.Embed(t.Context(), inputs(8))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v[0] != float32(i) {
			t.Fatalf("vector %d: %v", i, v)
		}
	}
	if got := f.requestSizes(); len(got) != 4 || got[0] != 8 || got[1] != 3 || got[3] != 2 || c.MaxInputs() != 3 {
		t.Fatalf("request sizes %v, max inputs %d", got, c.MaxInputs())
	}
}

func TestTEIStatusClassification(t *testing.T) {
	const tooLong = "Input validation error: `inputs` must have less than 512 tokens. Given: 600"
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		msg, typ   string
		n          int
		class      fault.Class
		index      int
		retryAfter time.Duration
		unauth     bool
	}{
		{name: "413 too long single", status: 413, msg: tooLong, typ: "Validation", n: 1, class: fault.ClassRecord, index: 0},
		{name: "413 too long several", status: 413, msg: tooLong, typ: "Validation", n: 3, class: fault.ClassBatch, index: -1},
		{name: "422 too long several", status: 422, msg: "input is too long", typ: "Tokenizer", n: 3, class: fault.ClassBatch, index: -1},
		{name: "422 too long named", status: 422, msg: "input 2 exceeds the context length", typ: "Tokenizer", n: 3, class: fault.ClassRecord, index: 2},
		{name: "413 batch size", status: 413, msg: "batch size 3 > maximum allowed batch size 4", typ: "Validation", n: 3, class: fault.ClassBatch, index: -1},
		{name: "413 payload", status: 413, msg: "length limit exceeded", n: 1, class: fault.ClassBatch, index: -1},
		{name: "422 tokenizer", status: 422, msg: "invalid UTF-8", typ: "Tokenizer", n: 3, class: fault.ClassRecord, index: -1},
		{name: "422 tokenizer single", status: 422, msg: "invalid UTF-8", typ: "Tokenizer", n: 1, class: fault.ClassRecord, index: 0},
		{name: "400 empty", status: 400, msg: "`inputs` cannot be empty", typ: "Empty", n: 1, class: fault.ClassRecord, index: 0},
		{name: "424 backend", status: 424, msg: "backend error", typ: "Backend", n: 3, class: fault.ClassServer, index: -1},
		{name: "424 OOM", status: 424, msg: "CUDA out of memory", typ: "Backend", n: 3, class: fault.ClassBatch, index: -1},
		{name: "429 overloaded", status: 429, header: map[string]string{"Retry-After": "3"}, msg: "Model is overloaded", typ: "Overloaded", n: 3, class: fault.ClassServer, index: -1, retryAfter: 3 * time.Second},
		{name: "503 unhealthy", status: 503, msg: "unhealthy", typ: "Unhealthy", n: 3, class: fault.ClassServer, index: -1},
		{name: "401", status: 401, msg: "unauthorized", n: 3, unauth: true},
		{name: "403", status: 403, msg: "forbidden", n: 3, unauth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTEI{info: `{"model_id":"m"}`, embed: func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				teiError(w, tc.status, tc.msg, tc.typ)
			}}
			_, err := newTEI(t, startTEI(t, f), nil).Embed(t.Context(), inputs(tc.n))
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("no StatusError %d with the message in %v", tc.status, err)
			}
			if tc.unauth {
				if !errors.Is(err, ErrUnauthorized) || fault.ClassOf(err) != fault.ClassFatal {
					t.Fatalf("want a fatal ErrUnauthorized, got %v", err)
				}
				return
			}
			wantClass(t, err, tc.class, tc.index)
			if ra := fault.RetryAfterOf(err); ra != tc.retryAfter {
				t.Fatalf("Retry-After %s, want %s", ra, tc.retryAfter)
			}
			if n := f.embedHits.Load(); n != 1 {
				t.Fatalf("%d requests", n)
			}
		})
	}
}

func TestTEIBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dim   int
		body  string
		n     int
		class fault.Class
		index int
	}{
		{"NaN", 0, `[[0.1,0.2],[NaN,0.2]]`, 2, fault.ClassRecord, 1},
		{"null element", 0, `[[0.1,null],[0.1,0.2]]`, 2, fault.ClassRecord, 0},
		{"wrong dim", 2, `[[0.1,0.2],[0.1,0.2,0.3]]`, 2, fault.ClassRecord, 1},
		{"all wrong dim", 3, `[[0.1,0.2],[0.1,0.2]]`, 2, fault.ClassServer, -1},
		{"empty vector", 0, `[[0.1],[]]`, 2, fault.ClassRecord, 1},
		{"too few", 0, `[[0.1]]`, 2, fault.ClassServer, -1},
		{"too many", 0, `[[0.1],[0.2]]`, 1, fault.ClassServer, -1},
		{"object", 0, `{"data":[]}`, 1, fault.ClassServer, -1},
		{"not JSON", 0, `<html>`, 1, fault.ClassServer, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTEI{info: `{"model_id":"m"}`, embed: rawHandler(tc.body)}
			_, err := newTEI(t, startTEI(t, f), func(c *TEIConfig) { c.Dimensions = tc.dim }).Embed(t.Context(), inputs(tc.n))
			wantClass(t, err, tc.class, tc.index)
		})
	}
}

func TestTEITransportErrors(t *testing.T) {
	f := &fakeTEI{info: `{"model_id":"m"}`}
	srv := serve(t, f.ServeHTTP)
	c := newTEI(t, srv.URL, nil)
	srv.Close()
	_, err := c.Embed(t.Context(), inputs(2))
	wantClass(t, err, fault.ClassServer, -1)
}

func TestInputLengthAndBatchLimitMessages(t *testing.T) {
	for msg, want := range map[string]bool{
		"Input validation error: `inputs` must have less than 512 tokens. Given: 600":         true,
		"This model's maximum context length is 512 tokens, however you requested 600 tokens": true,
		"input is too long": true,
		"Token indices sequence length exceeds the maximum sequence length": true,
		"the input has 600 tokens, over the limit":                          true,
		"batch size 40 > maximum allowed batch size 32":                     false,
		"length limit exceeded":                                             false,
		"invalid UTF-8":                                                     false,
	} {
		if got := isInputLength([]byte(msg)); got != want {
			t.Errorf("%q: %v", msg, got)
		}
	}
	if n := batchLimit([]byte(`{"error":"batch size 40 > maximum allowed batch size 32","error_type":"Validation"}`)); n != 32 {
		t.Errorf("batch limit %d", n)
	}
	if n := batchLimit([]byte(`input too long`)); n != 0 {
		t.Errorf("batch limit %d", n)
	}
}
