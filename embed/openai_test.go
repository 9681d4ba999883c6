package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

var quietLogger = slog.New(slog.DiscardHandler)

// fakeVec is the vector a fake server returns for an input: dim values
// derived from the input's text, so that tests can check the order.
func fakeVec(in string, dim int) []float32 {
	v := make([]float32, dim)
	n, _ := strconv.Atoi(strings.TrimPrefix(in, "in"))
	for i := range v {
		v[i] = float32(n) + float32(i)/1000
	}
	return v
}

type answer struct {
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

// okHandler answers like an OpenAI server, in reverse index order.
func okHandler(dim int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		data := make([]answer, 0, len(req.Input))
		for i := len(req.Input) - 1; i >= 0; i-- {
			data = append(data, answer{Index: i, Embedding: fakeVec(req.Input[i], dim)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "m"})
	}
}

func newClient(t *testing.T, baseURL string, mod func(*Config)) *OpenAI {
	t.Helper()
	cfg := Config{BaseURL: baseURL, Model: "test-model", Timeout: 5 * time.Second, Logger: quietLogger}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func inputs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("in%d", i)
	}
	return out
}

func wantClass(t *testing.T, err error, class fault.Class, index int) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", class)
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("unclassified error %v, want %s", err, class)
	}
	if fe.Class != class || fe.Index != index {
		t.Fatalf("got %s at %d (%v), want %s at %d", fe.Class, fe.Index, err, class, index)
	}
}

func TestOpenAIOrderHeadersAndBody(t *testing.T) {
	var got struct {
		auth, ctype, path string
		body              map[string]any
	}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got.auth, got.ctype, got.path = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.URL.Path
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		okHandler(4)(w, r)
	})
	c := newClient(t, srv.URL+"/v1/", func(c *Config) { c.APIKey = "sekrit" })
	vs, err := c.Embed(t.Context(), inputs(5))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v[0] != float32(i) || len(v) != 4 {
			t.Fatalf("vector %d = %v: out of order", i, v)
		}
	}
	if got.auth != "Bearer sekrit" || got.ctype != "application/json" || got.path != "/v1/embeddings" {
		t.Fatalf("auth %q, content type %q, path %q", got.auth, got.ctype, got.path)
	}
	if got.body["model"] != "test-model" || len(got.body["input"].([]any)) != 5 {
		t.Fatalf("body %v", got.body)
	}
	if c.Dimensions() != 4 || c.Model() != "test-model" {
		t.Fatalf("dimensions %d model %q", c.Dimensions(), c.Model())
	}
}

func TestOpenAINoKeyNoHeader(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Authorization"]; ok {
			t.Error("Authorization sent without a key")
		}
		okHandler(2)(w, r)
	})
	if _, err := newClient(t, srv.URL, nil).Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAIEmptyInputNoRequest(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
	vs, err := newClient(t, srv.URL, nil).Embed(t.Context(), nil)
	if err != nil || vs == nil || len(vs) != 0 {
		t.Fatalf("vs %v err %v", vs, err)
	}
}

func TestOpenAISplitsByMaxInputs(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req struct{ Input []string }
		_ = json.Unmarshal(b, &req)
		mu.Lock()
		sizes = append(sizes, len(req.Input))
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		okHandler(3)(w, r)
	})
	c := newClient(t, srv.URL, func(c *Config) { c.MaxInputs = 3 })
	vs, err := c.Embed(t.Context(), inputs(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 10 {
		t.Fatalf("%d vectors", len(vs))
	}
	for i, v := range vs {
		if v[0] != float32(i) {
			t.Fatalf("vector %d starts with %v", i, v[0])
		}
	}
	if fmt.Sprint(sizes) != "[3 3 3 1]" {
		t.Fatalf("request sizes %v", sizes)
	}
}

func TestOpenAISplitErrorIndexIsGlobal(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"in3"`) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":{"message":"bad","index":1}}`)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		okHandler(3)(w, r)
	})
	c := newClient(t, srv.URL, func(c *Config) { c.MaxInputs = 2 })
	_, err := c.Embed(t.Context(), inputs(5))
	wantClass(t, err, fault.ClassRecord, 3)
}

func TestOpenAIConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newClient(t, "http://"+addr+"/v1", nil).Embed(t.Context(), inputs(2))
	wantClass(t, err, fault.ClassServer, -1)
	if fault.IsCanceled(err) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrTimeout) {
		t.Fatalf("refused connection misreported: %v", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("message %q does not say refused", err)
	}
}

func TestOpenAIConnectionReset(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	_, err := newClient(t, srv.URL, nil).Embed(t.Context(), inputs(2))
	wantClass(t, err, fault.ClassServer, -1)
}

func TestOpenAIEOFMidBody(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"data":[{"index":0,"embedding":[0.1,`)
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	})
	_, err := newClient(t, srv.URL, nil).Embed(t.Context(), inputs(1))
	wantClass(t, err, fault.ClassServer, -1)
}

// hang reads the request and never answers, until the client leaves. (A
// server notices the client leaving only once it has read the body.)
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestOpenAIHangTimesOut(t *testing.T) {
	srv := serve(t, hang)
	c := newClient(t, srv.URL, func(c *Config) { c.Timeout = 150 * time.Millisecond })
	start := time.Now()
	_, err := c.Embed(t.Context(), inputs(2))
	wantClass(t, err, fault.ClassServer, -1)
	if !errors.Is(err, ErrTimeout) || fault.IsCanceled(err) {
		t.Fatalf("timeout: ErrTimeout %v IsCanceled %v: %v", errors.Is(err, ErrTimeout), fault.IsCanceled(err), err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestOpenAIClientTimeoutIsNotCancellation(t *testing.T) {
	srv := serve(t, hang)
	c := newClient(t, srv.URL, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} })
	_, err := c.Embed(t.Context(), inputs(1))
	wantClass(t, err, fault.ClassServer, -1)
	if !errors.Is(err, ErrTimeout) || fault.IsCanceled(err) {
		t.Fatalf("client timeout: %v", err)
	}
}

func TestOpenAICallerCancellation(t *testing.T) {
	srv := serve(t, hang)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := newClient(t, srv.URL, nil).Embed(ctx, inputs(1))
	wantClass(t, err, fault.ClassServer, -1)
	if !fault.IsCanceled(err) || errors.Is(err, ErrTimeout) {
		t.Fatalf("caller deadline: IsCanceled %v: %v", fault.IsCanceled(err), err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	_, err = newClient(t, srv.URL, nil).Embed(ctx, inputs(1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled before: %v", err)
	}
}

func TestOpenAIStatusClassification(t *testing.T) {
	future := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	long := strings.Repeat("x", 2000)
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		n          int
		class      fault.Class
		index      int
		retryAfter time.Duration // minimum expected; 0 means exactly 0
		unauth     bool
	}{
		{name: "429 seconds", status: 429, header: map[string]string{"Retry-After": "2"}, n: 3, class: fault.ClassServer, index: -1, retryAfter: 2 * time.Second},
		{name: "503 date", status: 503, header: map[string]string{"Retry-After": future}, n: 3, class: fault.ClassServer, index: -1, retryAfter: 25 * time.Second},
		{name: "500", status: 500, body: `{"error":"boom"}`, n: 3, class: fault.ClassServer, index: -1},
		{name: "502", status: 502, n: 3, class: fault.ClassServer, index: -1},
		{name: "424", status: 424, body: `{"error":"backend"}`, n: 3, class: fault.ClassServer, index: -1},
		{name: "404 before any success", status: 404, body: "404 page not found", n: 3, class: fault.ClassFatal, index: -1},
		{name: "413", status: 413, n: 3, class: fault.ClassBatch, index: -1},
		{name: "OOM", status: 500, body: `{"error":"CUDA out of memory"}`, n: 3, class: fault.ClassBatch, index: -1},
		{name: "OOM word", status: 503, body: `worker killed: OOM`, n: 3, class: fault.ClassBatch, index: -1},
		{name: "OOM 424", status: 424, body: `{"error":"torch.OutOfMemoryError: allocation failed"}`, n: 3, class: fault.ClassBatch, index: -1},
		{name: "not OOM", status: 500, body: `{"error":"zoom room"}`, n: 3, class: fault.ClassServer, index: -1},
		{name: "400 unnamed", status: 400, body: `{"error":{"message":"bad request"}}`, n: 3, class: fault.ClassRecord, index: -1},
		{name: "400 single", status: 400, body: `{"error":{"message":"bad request"}}`, n: 1, class: fault.ClassRecord, index: 0},
		{name: "422 index", status: 422, body: `{"error":{"message":"input 2 is invalid","index":2}}`, n: 3, class: fault.ClassRecord, index: 2},
		{name: "400 top-level index", status: 400, body: `{"message":"bad","index":1}`, n: 3, class: fault.ClassRecord, index: 1},
		{name: "400 message", status: 400, body: `{"error":{"message":"Input 1 exceeds the context length"}}`, n: 3, class: fault.ClassRecord, index: 1},
		{name: "400 param", status: 400, body: `{"error":{"message":"invalid","param":"input[2]"}}`, n: 3, class: fault.ClassRecord, index: 2},
		{name: "422 fastapi", status: 422, body: `{"detail":[{"loc":["body","input",1],"msg":"str type expected"}]}`, n: 3, class: fault.ClassRecord, index: 1},
		{name: "422 index out of range", status: 422, body: `{"error":{"index":7}}`, n: 3, class: fault.ClassRecord, index: -1},
		{name: "422 tei batch", status: 422, body: `{"error":"batch size 3 > maximum allowed batch size 2","error_type":"Validation"}`, n: 3, class: fault.ClassRecord, index: -1},
		{name: "400 plain text", status: 400, body: "input #2 is empty", n: 3, class: fault.ClassRecord, index: 2},
		{name: "400 long body", status: 400, body: long, n: 3, class: fault.ClassRecord, index: -1},
		{name: "401", status: 401, body: `{"error":"bad key"}`, n: 3, unauth: true},
		{name: "403", status: 403, n: 3, unauth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := newClient(t, srv.URL, nil).Embed(t.Context(), inputs(tc.n))
			if err == nil {
				t.Fatal("no error")
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status {
				t.Fatalf("no StatusError %d in %v", tc.status, err)
			}
			if len(se.Body) > 512 {
				t.Fatalf("body in error is %d bytes", len(se.Body))
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.status)) {
				t.Fatalf("message %q lacks the status", err)
			}
			if tc.body != "" && !strings.Contains(err.Error(), tc.body[:min(len(tc.body), 100)]) {
				t.Fatalf("message %q lacks the body", err)
			}
			if tc.unauth {
				if !errors.Is(err, ErrUnauthorized) || fault.ClassOf(err) != fault.ClassFatal {
					t.Fatalf("want a fatal ErrUnauthorized, got %v", err)
				}
				return
			}
			if errors.Is(err, ErrUnauthorized) {
				t.Fatalf("ErrUnauthorized for %d", tc.status)
			}
			wantClass(t, err, tc.class, tc.index)
			ra := fault.RetryAfterOf(err)
			if (tc.retryAfter == 0 && ra != 0) || ra < tc.retryAfter || ra > tc.retryAfter+10*time.Second {
				t.Fatalf("Retry-After %s, want ≥ %s", ra, tc.retryAfter)
			}
		})
	}
}

// rawHandler answers 200 with a fixed body.
func rawHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestOpenAIBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dim   int // configured Dimensions
		body  string
		n     int
		class fault.Class
		index int
	}{
		{"NaN python", 0, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[NaN,0.2]}]}`, 2, fault.ClassRecord, 1},
		{"Infinity python", 0, `{"data":[{"index":1,"embedding":[0.1,0.2]},{"index":0,"embedding":[0.1,-Infinity]}]}`, 2, fault.ClassRecord, 0},
		{"null element", 0, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[0.1,null]}]}`, 2, fault.ClassRecord, 1},
		{"NaN string", 0, `{"data":[{"index":0,"embedding":["nan",0.2]},{"index":1,"embedding":[0.1,0.3]}]}`, 2, fault.ClassRecord, 0},
		{"overflow", 0, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[1e999,0.2]}]}`, 2, fault.ClassRecord, 1},
		{"float32 overflow", 0, `{"data":[{"index":0,"embedding":[0.1,1e39]},{"index":1,"embedding":[0.1,0.2]}]}`, 2, fault.ClassRecord, 0},
		{"wrong dim configured", 2, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[0.1,0.2,0.3]}]}`, 2, fault.ClassRecord, 1},
		{"wrong dim majority", 0, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[0.1]},{"index":2,"embedding":[0.1,0.2]}]}`, 3, fault.ClassRecord, 1},
		{"all wrong dim", 3, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[0.1,0.2]}]}`, 2, fault.ClassServer, -1},
		{"single wrong dim", 3, `{"data":[{"index":0,"embedding":[0.1,0.2]}]}`, 1, fault.ClassRecord, 0},
		{"empty vector", 0, `{"data":[{"index":0,"embedding":[0.1,0.2]},{"index":1,"embedding":[]}]}`, 2, fault.ClassRecord, 1},
		{"null vector", 0, `{"data":[{"index":0,"embedding":null},{"index":1,"embedding":[0.1]}]}`, 2, fault.ClassRecord, 0},
		{"missing identifiable", 0, `{"data":[{"index":0,"embedding":[0.1]},{"index":2,"embedding":[0.1]}]}`, 3, fault.ClassRecord, 1},
		{"missing positional", 0, `{"data":[{"embedding":[0.1]},{"embedding":[0.1]}]}`, 3, fault.ClassServer, -1},
		{"too many", 0, `{"data":[{"index":0,"embedding":[0.1]},{"index":1,"embedding":[0.1]}]}`, 1, fault.ClassServer, -1},
		{"duplicate index", 0, `{"data":[{"index":0,"embedding":[0.1]},{"index":0,"embedding":[0.1]}]}`, 2, fault.ClassServer, -1},
		{"index out of range", 0, `{"data":[{"index":5,"embedding":[0.1]}]}`, 1, fault.ClassServer, -1},
		{"mixed index", 0, `{"data":[{"index":0,"embedding":[0.1]},{"embedding":[0.1]}]}`, 2, fault.ClassServer, -1},
		{"no data", 0, `{"error":"oops"}`, 1, fault.ClassServer, -1},
		{"not JSON", 0, `<html>bad gateway</html>`, 1, fault.ClassServer, -1},
		{"string embedding", 0, `{"data":[{"index":0,"embedding":"AAAA"}]}`, 1, fault.ClassServer, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, rawHandler(tc.body))
			c := newClient(t, srv.URL, func(c *Config) { c.Dimensions = tc.dim })
			_, err := c.Embed(t.Context(), inputs(tc.n))
			wantClass(t, err, tc.class, tc.index)
		})
	}
}

func TestOpenAIPositionalAnswer(t *testing.T) {
	srv := serve(t, rawHandler(`{"data":[{"embedding":[1,2]},{"embedding":[3,4]}]}`))
	vs, err := newClient(t, srv.URL, nil).Embed(t.Context(), inputs(2))
	if err != nil {
		t.Fatal(err)
	}
	if vs[0][0] != 1 || vs[1][0] != 3 {
		t.Fatalf("vectors %v", vs)
	}
}

func TestOpenAILearnsDimension(t *testing.T) {
	dim := 4
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { okHandler(dim)(w, r) })
	c := newClient(t, srv.URL, nil)
	if _, err := c.Embed(t.Context(), inputs(2)); err != nil {
		t.Fatal(err)
	}
	if c.Dimensions() != 4 {
		t.Fatalf("learned %d", c.Dimensions())
	}
	dim = 5
	_, err := c.Embed(t.Context(), inputs(1))
	wantClass(t, err, fault.ClassRecord, 0)
	_, err = c.Embed(t.Context(), inputs(3))
	wantClass(t, err, fault.ClassServer, -1)
}

func TestOpenAIConcurrent(t *testing.T) {
	srv := serve(t, okHandler(8))
	c := newClient(t, srv.URL, func(c *Config) { c.MaxInputs = 4 })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			vs, err := c.Embed(t.Context(), inputs(10))
			if err != nil {
				t.Error(err)
				return
			}
			for i, v := range vs {
				if v[0] != float32(i) {
					t.Errorf("vector %d out of order", i)
				}
			}
		})
	}
	wg.Wait()
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "", Model: "m"},
		{BaseURL: "ftp://x/v1", Model: "m"},
		{BaseURL: "http://x/v1"},
		{BaseURL: "http://x/v1", Model: "m", Timeout: -1},
		{BaseURL: "http://x/v1", Model: "m", MaxInputs: -1},
		{BaseURL: "http://x/v1", Model: "m", Dimensions: -1},
	} {
		if _, err := NewOpenAI(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	d := Config{}.WithDefaults()
	if d.Timeout != 60*time.Second || d.MaxInputs != 256 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 1.5 ":                         1500 * time.Millisecond,
		"0":                             0,
		"-4":                            0,
		"NaN":                           0,
		"soon":                          0,
		"99999999999":                   24 * time.Hour,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:04:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate([]byte("  short \n"), 512); got != "short" {
		t.Fatalf("%q", got)
	}
	long := strings.Repeat("é", 600) // 2 bytes each
	got := truncate([]byte(long), 512)
	if len(got) > 512 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(got, "éé") {
		t.Fatalf("len %d %q", len(got), got[len(got)-8:])
	}
	for _, r := range strings.TrimSuffix(got, "...") {
		if r != 'é' {
			t.Fatalf("cut inside a rune: %q", got[len(got)-8:])
		}
	}
}

func TestQuoteNonFinite(t *testing.T) {
	in := `{"s":"NaN and Infinity \" NaN","v":[NaN,-Infinity,Infinity,1]}`
	got, ok := quoteNonFinite([]byte(in))
	want := `{"s":"NaN and Infinity \" NaN","v":["NaN","-Infinity","Infinity",1]}`
	if !ok || string(got) != want {
		t.Fatalf("got %s", got)
	}
	if _, ok := quoteNonFinite([]byte(`{"v":[1,2]}`)); ok {
		t.Fatal("changed a finite document")
	}
}

func TestVectorUnmarshal(t *testing.T) {
	var v vector
	if err := json.Unmarshal([]byte(` [ 1 , -2.5e-3,3 ] `), &v); err != nil || len(v) != 3 || v[1] != -0.0025 {
		t.Fatalf("%v %v", v, err)
	}
	if err := json.Unmarshal([]byte(`[1,[2]]`), &v); err == nil {
		t.Fatal("nested array accepted")
	}
	if err := json.Unmarshal([]byte(`[1,"x"]`), &v); err == nil {
		t.Fatal("string accepted")
	}
	if err := json.Unmarshal([]byte(`[null]`), &v); err != nil || !math.IsNaN(float64(v[0])) {
		t.Fatalf("null: %v %v", v, err)
	}
}
