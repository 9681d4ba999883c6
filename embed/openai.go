package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// Defaults of Config.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultMaxInputs = 256
)

const (
	// maxErrorBody is how much of an error answer is read (to find an
	// input index); maxBodyInError is how much of it goes into messages.
	maxErrorBody   = 64 << 10
	maxBodyInError = 512
	// maxResponseBody bounds a successful answer.
	maxResponseBody = 256 << 20
	// maxRetryAfter bounds the server's Retry-After hint.
	maxRetryAfter = 24 * time.Hour
)

// Config configures an OpenAI client.
type Config struct {
	// BaseURL is the API root, such as http://127.0.0.1:8081/v1 or
	// https://api.openai.com/v1; requests go to BaseURL + "/embeddings".
	BaseURL string
	// Model is sent as "model" and returned by Model. Required.
	Model string
	// APIKey, if not empty, is sent as "Authorization: Bearer <APIKey>".
	APIKey string
	// Timeout bounds one HTTP request, answer included. Default 60s.
	Timeout time.Duration
	// MaxInputs is the most inputs sent in one request. Default 256.
	MaxInputs int
	// Dimensions is the expected vector length; 0 means learn it from the
	// first valid answer. It is not sent to the server.
	Dimensions int
	// HTTPClient sends the requests. Default: a client of its own with a
	// transport that keeps enough idle connections for concurrent callers.
	HTTPClient *http.Client
	// Logger receives rare informational messages. Default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxInputs == 0 {
		c.MaxInputs = DefaultMaxInputs
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether c is usable. Call it on c.WithDefaults().
func (c Config) Validate() error {
	switch {
	case !isHTTPURL(c.BaseURL):
		return fmt.Errorf("embed: base URL %q is not an http(s) URL", c.BaseURL)
	case c.Model == "":
		return errors.New("embed: no model given")
	case c.Timeout <= 0:
		return fmt.Errorf("embed: timeout %s is not positive", c.Timeout)
	case c.MaxInputs <= 0:
		return fmt.Errorf("embed: max inputs %d is not positive", c.MaxInputs)
	case c.Dimensions < 0:
		return fmt.Errorf("embed: negative dimensions %d", c.Dimensions)
	}
	return nil
}

// OpenAI is an Embedder backed by an OpenAI-compatible embeddings server.
// It is safe for concurrent use.
type OpenAI struct {
	cfg      Config
	endpoint string
	client   *http.Client
	log      *slog.Logger
	dim      atomic.Int64 // expected dimension; 0 until known
}

// NewOpenAI returns a client for the server described by cfg. It does not
// contact the server.
func NewOpenAI(cfg Config) (*OpenAI, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		client = &http.Client{Transport: tr}
	}
	c := &OpenAI{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/embeddings",
		client:   client,
		log:      cfg.Logger.With("embedder", "openai", "model", cfg.Model),
	}
	c.dim.Store(int64(cfg.Dimensions))
	return c, nil
}

// Model returns the configured model name.
func (c *OpenAI) Model() string { return c.cfg.Model }

// Dimensions returns the expected vector length: the configured one, or the
// one learned from the first valid answer, or 0 before that.
func (c *OpenAI) Dimensions() int { return int(c.dim.Load()) }

// Embed sends inputs in requests of at most MaxInputs inputs, one after the
// other, and returns the vectors in input order. Errors are classified with
// package fault; indices refer to inputs.
func (c *OpenAI) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	out := make([][]float32, 0, len(inputs))
	for base := 0; base < len(inputs); base += c.cfg.MaxInputs {
		end := min(base+c.cfg.MaxInputs, len(inputs))
		vecs, err := c.post(ctx, inputs[base:end], base)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

type embeddingRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embeddingResponse struct {
	Data []struct {
		Index     *int   `json:"index"`
		Embedding vector `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
}

// post sends one request; base is the position of inputs[0] in the
// caller's slice, used in record errors.
func (c *OpenAI) post(ctx context.Context, inputs []string, base int) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fault.Server(fmt.Errorf("embed: POST %s not sent: %w", c.endpoint, err), 0)
	}
	body, err := json.Marshal(embeddingRequest{Model: c.cfg.Model, Input: inputs})
	if err != nil {
		return nil, fault.Server(fmt.Errorf("embed: encoding request: %w", err), 0)
	}
	rctx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, ErrTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fault.Server(fmt.Errorf("embed: building request: %w", err), 0)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ragpipe")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, rctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// A partial body is good enough for a message.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, c.statusError(resp, b, len(inputs), base)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, c.transportError(ctx, rctx, err)
	}
	if len(data) > maxResponseBody {
		return nil, fault.Server(fmt.Errorf("embed: POST %s: answer larger than %d bytes", c.endpoint, maxResponseBody), 0)
	}
	return c.decode(data, len(inputs), base)
}

// transportError classifies a failure to send the request or read the
// answer. All are Server errors; only the caller's own cancellation wraps
// the context's error.
func (c *OpenAI) transportError(ctx, rctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fault.Server(fmt.Errorf("embed: POST %s abandoned: %w", c.endpoint, cerr), 0)
	}
	if errors.Is(context.Cause(rctx), ErrTimeout) {
		return fault.Server(fmt.Errorf("embed: POST %s: no answer within %s: %w", c.endpoint, c.cfg.Timeout, ErrTimeout), 0)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		// A timeout of a caller-supplied http.Client: not a cancellation.
		return fault.Server(fmt.Errorf("embed: POST %s: %v: %w", c.endpoint, err, ErrTimeout), 0)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the method and URL
	}
	return fault.Server(fmt.Errorf("embed: POST %s: %w", c.endpoint, err), 0)
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

func (c *OpenAI) statusError(resp *http.Response, body []byte, n, base int) error {
	se := &StatusError{StatusCode: resp.StatusCode, Body: truncate(body, maxBodyInError)}
	err := fmt.Errorf("embed: POST %s: %w", c.endpoint, se)
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("embed: POST %s: %w: %w", c.endpoint, ErrUnauthorized, se)
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
		return fault.Server(err, ra)
	}
}

// decode parses a 2xx answer for n inputs and checks every vector.
func (c *OpenAI) decode(data []byte, n, base int) ([][]float32, error) {
	var r embeddingResponse
	err := json.Unmarshal(data, &r)
	if err != nil {
		var se *json.SyntaxError
		if fixed, ok := quoteNonFinite(data); ok && errors.As(err, &se) {
			r = embeddingResponse{}
			err = json.Unmarshal(fixed, &r)
		}
	}
	if err != nil {
		return nil, fault.Server(fmt.Errorf("embed: POST %s: malformed answer: %w (body: %s)",
			c.endpoint, err, truncate(data, maxBodyInError)), 0)
	}
	malformed := func(format string, args ...any) error {
		return fault.Server(fmt.Errorf("embed: POST %s: malformed answer: %s", c.endpoint, fmt.Sprintf(format, args...)), 0)
	}
	if len(r.Data) > n {
		return nil, malformed("%d vectors for %d inputs", len(r.Data), n)
	}
	withIndex := 0
	for _, d := range r.Data {
		if d.Index != nil {
			withIndex++
		}
	}
	positional := withIndex == 0
	if !positional && withIndex != len(r.Data) {
		return nil, malformed("only %d of %d vectors carry an index", withIndex, len(r.Data))
	}
	out := make([][]float32, n)
	seen := make([]bool, n)
	for k, d := range r.Data {
		i := k
		if !positional {
			i = *d.Index
		}
		if i < 0 || i >= n {
			return nil, malformed("vector index %d out of range [0, %d)", i, n)
		}
		if seen[i] {
			return nil, malformed("two vectors for index %d", i)
		}
		seen[i] = true
		out[i] = d.Embedding
	}
	if len(r.Data) < n {
		if positional {
			return nil, malformed("%d vectors for %d inputs", len(r.Data), n)
		}
		for i, ok := range seen {
			if !ok {
				return nil, fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: no vector for input %d (%d vectors for %d inputs)",
					c.endpoint, base+i, len(r.Data), n))
			}
		}
	}

	want := c.Dimensions()
	learn := want == 0
	if learn {
		want = majorityLen(out)
	} else if n >= 2 && sameLen(out) && len(out[0]) != want {
		return nil, fault.Server(fmt.Errorf("embed: POST %s: every vector has dimension %d, want %d (has the server's model changed?)",
			c.endpoint, len(out[0]), want), 0)
	}
	for i, v := range out {
		if len(v) == 0 {
			return nil, fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: empty vector for input %d", c.endpoint, base+i))
		}
		if j := firstNonFinite(v); j >= 0 {
			return nil, fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: vector for input %d holds %v at position %d",
				c.endpoint, base+i, v[j], j))
		}
		if len(v) != want {
			return nil, fault.RecordAt(base+i, fmt.Errorf("embed: POST %s: vector for input %d has dimension %d, want %d",
				c.endpoint, base+i, len(v), want))
		}
	}
	if learn && c.dim.CompareAndSwap(0, int64(want)) {
		c.log.Info("embedding dimension learned from the server", "dim", want, "server_model", r.Model)
	}
	return out, nil
}
