package embed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// This file holds what the OpenAI and TEI clients share: sending a request,
// and classifying transport failures, error statuses and vectors.

// newHTTPClient returns client, or when it is nil a client of its own with
// a transport that keeps enough idle connections for concurrent callers.
func newHTTPClient(client *http.Client) *http.Client {
	if client != nil {
		return client
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr}
}

// request is one HTTP exchange with an embedding server.
type request struct {
	client  *http.Client
	method  string
	url     string
	apiKey  string
	timeout time.Duration
	body    []byte // nil: no body
	// status classifies a non-2xx answer, given at most maxErrorBody bytes
	// of its body.
	status func(resp *http.Response, body []byte) error
}

// do sends r and returns the body of a 2xx answer (at most
// maxResponseBody bytes). Every error is classified: transport failures
// are Server errors (see transportError), non-2xx answers are classified by
// r.status.
func (r request) do(ctx context.Context) ([]byte, error) {
	what := r.method + " " + r.url
	if err := ctx.Err(); err != nil {
		return nil, fault.Server(fmt.Errorf("embed: %s not sent: %w", what, err), 0)
	}
	rctx, cancel := context.WithTimeoutCause(ctx, r.timeout, ErrTimeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(rctx, r.method, r.url, body)
	if err != nil {
		return nil, fault.Server(fmt.Errorf("embed: building request: %w", err), 0)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ragpipe")
	if r.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.apiKey)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, rctx, what, r.timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// A partial body is good enough for a message.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, r.status(resp, b)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, transportError(ctx, rctx, what, r.timeout, err)
	}
	if len(data) > maxResponseBody {
		return nil, fault.Server(fmt.Errorf("embed: %s: answer larger than %d bytes", what, maxResponseBody), 0)
	}
	return data, nil
}

// transportError classifies a failure to send the request what ("POST
// URL") or read its answer. All are Server errors; only the caller's own
// cancellation wraps the context's error.
func transportError(ctx, rctx context.Context, what string, timeout time.Duration, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fault.Server(fmt.Errorf("embed: %s abandoned: %w", what, cerr), 0)
	}
	if errors.Is(context.Cause(rctx), ErrTimeout) {
		return fault.Server(fmt.Errorf("embed: %s: no answer within %s: %w", what, timeout, ErrTimeout), 0)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		// A timeout of a caller-supplied http.Client: not a cancellation.
		return fault.Server(fmt.Errorf("embed: %s: %v: %w", what, err, ErrTimeout), 0)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the method and URL
	}
	return fault.Server(fmt.Errorf("embed: %s: %w", what, err), 0)
}

// StatusError is an answer with a non-2xx status. It is wrapped (inside a
// fault error, or with ErrUnauthorized) by the errors Embed returns.
type StatusError struct {
	StatusCode int
	// Body is the start of the answer's body, at most 512 bytes.
	Body string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// statusError classifies a non-2xx answer to "POST endpoint" for n inputs;
// base is the position of the request's first input in the caller's slice.
// See the package documentation for the rules.
func statusError(endpoint string, resp *http.Response, body []byte, n, base int) error {
	se := &StatusError{StatusCode: resp.StatusCode, Body: truncate(body, maxBodyInError)}
	err := fmt.Errorf("embed: POST %s: %w", endpoint, se)
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return unauthorized(http.MethodPost, endpoint, se)
	case code == http.StatusRequestEntityTooLarge:
		return fault.Batch(err)
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		i := inputIndex(body, n)
		if i < 0 && n == 1 {
			i = 0
		}
		if i < 0 {
			return fault.Record(err)
		}
		return fault.RecordAt(base+i, err)
	case (code >= 500 || code == http.StatusFailedDependency) && isOOM(body):
		return fault.Batch(err)
	default:
		ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if ra > 0 {
			err = fmt.Errorf("%w (retry after %s)", err, ra.Round(time.Millisecond))
		}
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			return fault.Overload(err, ra) // push-back: callers send less
		}
		return fault.Server(err, ra)
	}
}

// unauthorized is the fault.Fatal error for a 401 or 403 answer to
// "method url"; it wraps ErrUnauthorized and se.
func unauthorized(method, url string, se *StatusError) error {
	return fault.Fatal(fmt.Errorf("embed: %s %s: %w: %w (check the API key: %s, %s or Spec.APIKeyEnv)",
		method, url, ErrUnauthorized, se, EnvAPIKey, EnvOpenAIAPIKey))
}

// notFound is the fault.Fatal error for a 404 answer (whose body is body)
// to "POST endpoint" from a server that has never answered that endpoint
// successfully: the URL is wrong, and retrying would stall forever. hint
// suggests the right one. It wraps ErrNotFound and a *StatusError.
func notFound(endpoint string, body []byte, hint string) error {
	se := &StatusError{StatusCode: http.StatusNotFound, Body: truncate(body, maxBodyInError)}
	return fault.Fatal(fmt.Errorf("embed: POST %s: %w: %w; %s", endpoint, ErrNotFound, se, hint))
}

// checkVectors checks the n = len(out) vectors of one answer from
// endpoint: base is the position of out[0] in the caller's slice; dim holds
// the expected dimension, 0 until known, and is set from the first valid
// answer (logged to log with serverModel, the model the answer names).
func checkVectors(endpoint string, out [][]float32, base int, dim *atomic.Int64, log *slog.Logger, serverModel string) error {
	n := len(out)
	want := int(dim.Load())
	learn := want == 0
	if learn {
		want = majorityLen(out)
	} else if n >= 2 && sameLen(out) && len(out[0]) != want {
		return fault.Server(fmt.Errorf("embed: POST %s: every vector has dimension %d, want %d (has the server's model changed?)",
			endpoint, len(out[0]), want), 0)
	}
	for i, v := range out {
		if len(v) == 0 {
			return fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: empty vector for input %d", endpoint, base+i))
		}
		if j := firstNonFinite(v); j >= 0 {
			return fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: vector for input %d holds %v at position %d",
				endpoint, base+i, v[j], j))
		}
		if len(v) != want {
			return fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: vector for input %d has dimension %d, want %d",
				endpoint, base+i, len(v), want))
		}
	}
	if learn && dim.CompareAndSwap(0, int64(want)) {
		log.Info("embedding dimension learned from the server", "dim", want, "server_model", serverModel)
	}
	return nil
}
