package embed

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ragpipe/ragpipe/fault"
)

// A 404 from an endpoint that never answered is a mistyped URL: fatal, with
// a message naming the URL and the right path. After a first success, a
// 404 is a passing server problem: retried.
func TestOpenAINotFoundBeforeAndAfterSuccess(t *testing.T) {
	var missing atomic.Bool
	missing.Store(true)
	ok := okHandler(4)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if missing.Load() {
			http.NotFound(w, r)
			return
		}
		ok(w, r)
	})
	c := newClient(t, srv.URL, nil) // no /v1: the usual mistake
	_, err := c.Embed(t.Context(), inputs(2))
	if fault.ClassOf(err) != fault.ClassFatal || !errors.Is(err, ErrNotFound) {
		t.Fatalf("404 at start-up: %v (class %v)", err, fault.ClassOf(err))
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 {
		t.Fatalf("no StatusError in %v", err)
	}
	for _, want := range []string{srv.URL + "/embeddings", "/v1", "try " + srv.URL + "/v1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}

	missing.Store(false)
	if _, err := c.Embed(t.Context(), inputs(2)); err != nil {
		t.Fatal(err)
	}
	missing.Store(true)
	_, err = c.Embed(t.Context(), inputs(2))
	if fault.ClassOf(err) != fault.ClassServer || errors.Is(err, ErrNotFound) {
		t.Fatalf("404 after a success: %v (class %v)", err, fault.ClassOf(err))
	}
}

func TestOpenAIHint(t *testing.T) {
	for base, want := range map[string]string{
		"http://h:8081":                "try http://h:8081/v1",
		"http://h:8081/":               "try http://h:8081/v1",
		"http://h:8081/v1/embeddings":  "try http://h:8081/v1",
		"http://h:8081/api":            "check the path of http://h:8081/api",
		"http://h:8081/v1":             "check the host, port and path",
		"https://api.example.com/x/v1": "check the host, port and path",
	} {
		if got := openAIHint(base); !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", base, got, want)
		}
	}
}

func TestTEINotFoundBeforeSuccess(t *testing.T) {
	// /info answers (the model is given anyway), /embed does not exist
	// under this path.
	f := &fakeTEI{info: `{"model_id":"m"}`}
	srv := serve(t, f.ServeHTTP)
	c := newTEI(t, srv.URL+"/v1", func(c *TEIConfig) { c.Model = "m" })
	_, err := c.Embed(t.Context(), inputs(2))
	if fault.ClassOf(err) != fault.ClassFatal || !errors.Is(err, ErrNotFound) {
		t.Fatalf("404 at start-up: %v (class %v)", err, fault.ClassOf(err))
	}
	if !strings.Contains(err.Error(), srv.URL+"/v1/embed") || !strings.Contains(err.Error(), "try tei+"+srv.URL) {
		t.Fatalf("message %q", err)
	}

	// After a success, a 404 is retried.
	var missing atomic.Bool
	f2 := &fakeTEI{info: `{"model_id":"m"}`, dim: 4}
	srv2 := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if missing.Load() && r.URL.Path == "/embed" {
			http.NotFound(w, r)
			return
		}
		f2.ServeHTTP(w, r)
	})
	c2 := newTEI(t, srv2.URL, nil)
	if _, err := c2.Embed(t.Context(), inputs(2)); err != nil {
		t.Fatal(err)
	}
	missing.Store(true)
	_, err = c2.Embed(t.Context(), inputs(2))
	if fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("404 after a success: %v (class %v)", err, fault.ClassOf(err))
	}
}

func TestPoolFatalIsReturnedAtOnceAndNeutral(t *testing.T) {
	for _, err := range []error{
		fault.Fatal(errors.Join(ErrUnauthorized, errors.New("401"))),
		fault.Fatal(errors.Join(ErrNotFound, errors.New("404"))),
	} {
		fakes := newFakes("a", "b")
		fakes[0].setErr(err)
		p, _ := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1})
		_, got := p.Embed(t.Context(), inputs(2))
		if got != err {
			t.Fatalf("got %v, want %v unchanged", got, err)
		}
		if fakes[1].callCount() != 0 {
			t.Fatalf("%v: retried on b", err)
		}
		if h := health(p, "a"); h.State != BreakerClosed || h.Failures != 0 || h.ConsecutiveFailures != 0 {
			t.Fatalf("%v: a %+v", err, h)
		}
	}
}
