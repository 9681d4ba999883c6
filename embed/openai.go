package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// MaxInputTokens, if positive, is the most tokens an input may have,
	// as estimated by the client (words plus punctuation runs, which
	// approximates a BPE count from below). An Embed call with an input
	// over it sends nothing and fails with fault.RecordAt that input,
	// wrapping ErrInputTooLong. 0 means no limit: the server decides.
	MaxInputTokens int
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
	case c.MaxInputTokens < 0:
		return fmt.Errorf("embed: negative max input tokens %d", c.MaxInputTokens)
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
	answered atomic.Bool  // a request was answered with vectors
}

// NewOpenAI returns a client for the server described by cfg. It does not
// contact the server.
func NewOpenAI(cfg Config) (*OpenAI, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &OpenAI{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/embeddings",
		client:   newHTTPClient(cfg.HTTPClient),
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

// URL returns the address requests are sent to, BaseURL + "/embeddings".
func (c *OpenAI) URL() string { return c.endpoint }

// MaxInputs returns the most inputs sent in one request.
func (c *OpenAI) MaxInputs() int { return c.cfg.MaxInputs }

// Embed sends inputs in requests of at most MaxInputs inputs, one after the
// other, and returns the vectors in input order. Errors are classified with
// package fault; indices refer to inputs. An input over MaxInputTokens
// fails the call before anything is sent.
func (c *OpenAI) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	if err := checkTokenLimit(inputs, c.cfg.MaxInputTokens); err != nil {
		return nil, err
	}
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
	body, err := json.Marshal(embeddingRequest{Model: c.cfg.Model, Input: inputs})
	if err != nil {
		return nil, fault.Server(fmt.Errorf("embed: encoding request: %w", err), 0)
	}
	data, err := request{
		client: c.client, method: http.MethodPost, url: c.endpoint,
		apiKey: c.cfg.APIKey, timeout: c.cfg.Timeout, body: body,
		status: func(resp *http.Response, b []byte) error {
			if resp.StatusCode == http.StatusNotFound && !c.answered.Load() {
				return notFound(c.endpoint, b, openAIHint(c.cfg.BaseURL))
			}
			return statusError(c.endpoint, resp, b, len(inputs), base)
		},
	}.do(ctx)
	if err != nil {
		return nil, err
	}
	vecs, err := c.decode(data, len(inputs), base)
	if err == nil {
		c.answered.Store(true)
	}
	return vecs, err
}

// openAIHint suggests the base URL to use instead of baseURL, which
// answered 404.
func openAIHint(baseURL string) string {
	const rule = "OpenAI-compatible base URLs end in /v1 (requests go to BASE/embeddings)"
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return rule
	}
	path := u.Path
	switch {
	case strings.HasSuffix(path, "/embeddings"):
		u.Path = strings.TrimSuffix(path, "/embeddings")
	case path == "":
		u.Path = "/v1"
	case !strings.HasSuffix(path, "/v1"):
		return rule + "; check the path of " + baseURL
	default:
		return "the server answers, but not at " + path + "/embeddings: check the host, port and path, or use tei+ and the root URL for TEI's native API"
	}
	return rule + ": try " + u.String()
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

	if err := checkVectors(c.endpoint, out, base, &c.dim, c.log, r.Model); err != nil {
		return nil, err
	}
	return out, nil
}
