package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// Defaults of TEIConfig.
const (
	// DefaultTEIMaxInputs is used when neither the configuration nor the
	// server's /info gives a batch limit; it is TEI's own default
	// --max-client-batch-size.
	DefaultTEIMaxInputs = 32
	// DefaultInfoTimeout bounds the GET /info made by NewTEI (or Timeout if
	// that is shorter).
	DefaultInfoTimeout = 10 * time.Second
)

// TEIConfig configures a TEI client.
type TEIConfig struct {
	// BaseURL is the server's root, such as http://127.0.0.1:8080:
	// embeddings are requested from BaseURL + "/embed", limits and the model
	// name read from BaseURL + "/info".
	BaseURL string
	// Model is the name Model returns. Empty means /info's model_id, and
	// then NewTEI fails if /info cannot be read. When both are known and
	// differ, Model wins and a warning is logged (the same model may be
	// known under a hub id and a local path).
	Model string
	// APIKey, if not empty, is sent as "Authorization: Bearer <APIKey>"
	// (TEI's --api-key).
	APIKey string
	// Timeout bounds one HTTP request, answer included. Default 60s.
	Timeout time.Duration
	// MaxInputs is the most inputs sent in one request. 0 means /info's
	// max_client_batch_size, or 32 if /info does not say.
	MaxInputs int
	// MaxInputTokens is the most tokens an input may have, as estimated by
	// the client; an Embed call with an input over it sends nothing and
	// fails with fault.RecordAt that input, wrapping ErrInputTooLong. 0
	// means /info's max_input_length, or no limit if /info does not say.
	MaxInputTokens int
	// Dimensions is the expected vector length; 0 means learn it from the
	// first valid answer.
	Dimensions int
	// HTTPClient sends the requests. Default: a client of its own.
	HTTPClient *http.Client
	// Logger receives rare informational messages. Default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults. The
// limits that /info may supply are left at zero.
func (c TEIConfig) WithDefaults() TEIConfig {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether c is usable. Call it on c.WithDefaults().
func (c TEIConfig) Validate() error {
	switch {
	case !isHTTPURL(c.BaseURL):
		return fmt.Errorf("embed: base URL %q is not an http(s) URL", c.BaseURL)
	case c.Timeout <= 0:
		return fmt.Errorf("embed: timeout %s is not positive", c.Timeout)
	case c.MaxInputs < 0:
		return fmt.Errorf("embed: negative max inputs %d", c.MaxInputs)
	case c.MaxInputTokens < 0:
		return fmt.Errorf("embed: negative max input tokens %d", c.MaxInputTokens)
	case c.Dimensions < 0:
		return fmt.Errorf("embed: negative dimensions %d", c.Dimensions)
	}
	return nil
}

// TEI is an Embedder backed by Hugging Face text-embeddings-inference's
// native API: POST /embed with {"inputs": [...], "truncate": false,
// "normalize": true}, answered with one array of numbers per input. It is
// safe for concurrent use.
//
// Its errors are classified like the OpenAI client's (see the package
// documentation), with TEI's own conventions on top: TEI answers 413 both
// for a batch over its max_client_batch_size and for an input over its
// max_input_length ("`inputs` must have less than 512 tokens"), and 422
// for tokenizer failures. An input-length refusal (413 or 422) of a
// single-input request is fault.RecordAt that input; of a request with
// several inputs, which TEI does not say which, it is fault.Batch, so the
// caller bisects down to the culprit. A batch-size refusal that names the
// server's limit ("maximum allowed batch size 16") lowers the client's
// MaxInputs to it and the call is retried at once in smaller requests.
type TEI struct {
	cfg       TEIConfig
	base      string
	endpoint  string
	client    *http.Client
	log       *slog.Logger
	model     string
	maxTokens int
	maxInputs atomic.Int64 // only ever lowered after NewTEI
	dim       atomic.Int64 // expected dimension; 0 until known
	answered  atomic.Bool  // a request was answered with vectors
}

// teiInfo is the part of TEI's GET /info answer the client uses.
type teiInfo struct {
	ModelID            string `json:"model_id"`
	MaxClientBatchSize int    `json:"max_client_batch_size"`
	MaxInputLength     int    `json:"max_input_length"`
}

// NewTEI returns a client for the TEI server described by cfg. It reads the
// server's GET /info once, here, for the limits and model name that cfg
// leaves unset, waiting at most DefaultInfoTimeout (or cfg.Timeout if
// shorter). If /info cannot be read it logs a warning and uses the
// defaults (32 inputs per request, no token limit), unless cfg.Model is
// empty too: then it fails, because vectors must not be stored under an
// unknown model name. A 401 or 403 from /info fails with ErrUnauthorized.
func NewTEI(cfg TEIConfig) (*TEI, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	t := &TEI{
		cfg:      cfg,
		base:     base,
		endpoint: base + "/embed",
		client:   newHTTPClient(cfg.HTTPClient),
		log:      cfg.Logger.With("embedder", "tei", "url", base),
	}
	t.dim.Store(int64(cfg.Dimensions))

	info, err := t.readInfo(context.Background(), min(cfg.Timeout, DefaultInfoTimeout))
	switch {
	case errors.Is(err, ErrUnauthorized):
		return nil, err
	case err != nil && cfg.Model == "":
		return nil, fmt.Errorf("embed: no model name given for %s, and its /info cannot be read: %w", base, err)
	case err != nil:
		t.log.Warn("cannot read the TEI server's /info; using default limits", "err", err)
	}
	t.model = cfg.Model
	if t.model == "" {
		t.model = info.ModelID
	} else if info.ModelID != "" && info.ModelID != cfg.Model {
		t.log.Warn("the TEI server serves a model under another name; vectors are labelled with the configured one",
			"configured_model", cfg.Model, "server_model", info.ModelID)
	}
	maxInputs := firstPositive(cfg.MaxInputs, info.MaxClientBatchSize, DefaultTEIMaxInputs)
	t.maxInputs.Store(int64(maxInputs))
	t.maxTokens = firstPositive(cfg.MaxInputTokens, info.MaxInputLength)
	t.log = t.log.With("model", t.model)
	t.log.Info("TEI client ready", "max_inputs", maxInputs, "max_input_tokens", t.maxTokens)
	return t, nil
}

// firstPositive returns the first positive value, or 0.
func firstPositive(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

// readInfo reads GET /info, waiting at most timeout.
func (t *TEI) readInfo(ctx context.Context, timeout time.Duration) (teiInfo, error) {
	infoURL := t.base + "/info"
	data, err := request{
		client: t.client, method: http.MethodGet, url: infoURL,
		apiKey: t.cfg.APIKey, timeout: timeout,
		status: func(resp *http.Response, b []byte) error {
			se := &StatusError{StatusCode: resp.StatusCode, Body: truncate(b, maxBodyInError)}
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				return unauthorized(http.MethodGet, infoURL, se)
			}
			return fault.Server(fmt.Errorf("embed: GET %s: %w", infoURL, se), 0)
		},
	}.do(ctx)
	if err != nil {
		return teiInfo{}, err
	}
	var info teiInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return teiInfo{}, fmt.Errorf("embed: GET %s: malformed answer: %w (body: %s)", infoURL, err, truncate(data, maxBodyInError))
	}
	return info, nil
}

// Model returns the configured model name, or else /info's model_id.
func (t *TEI) Model() string { return t.model }

// URL returns the address embeddings are requested from, BaseURL + "/embed".
func (t *TEI) URL() string { return t.endpoint }

// MaxInputs returns the most inputs currently sent in one request.
func (t *TEI) MaxInputs() int { return int(t.maxInputs.Load()) }

// MaxInputTokens returns the token limit applied to each input; 0 is none.
func (t *TEI) MaxInputTokens() int { return t.maxTokens }

// Dimensions returns the expected vector length: the configured one, or the
// one learned from the first valid answer, or 0 before that.
func (t *TEI) Dimensions() int { return int(t.dim.Load()) }

// Embed sends inputs in requests of at most MaxInputs inputs, one after the
// other, and returns the vectors in input order. An input over
// MaxInputTokens fails the call before anything is sent. Errors are
// classified with package fault (see TEI); indices refer to inputs.
func (t *TEI) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	if err := checkTokenLimit(inputs, t.maxTokens); err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(inputs))
	for base := 0; base < len(inputs); {
		end := min(base+t.MaxInputs(), len(inputs))
		vecs, limit, err := t.post(ctx, inputs[base:end], base)
		if err != nil {
			if limit > 0 && limit < end-base {
				// The server named a smaller batch limit: adopt it and
				// resend these inputs in smaller requests. limit strictly
				// decreases, so this ends.
				t.lowerMaxInputs(limit)
				continue
			}
			return nil, err
		}
		out = append(out, vecs...)
		base = end
	}
	return out, nil
}

// lowerMaxInputs sets MaxInputs to limit if that is lower.
func (t *TEI) lowerMaxInputs(limit int) {
	for {
		old := t.maxInputs.Load()
		if int64(limit) >= old {
			return
		}
		if t.maxInputs.CompareAndSwap(old, int64(limit)) {
			t.log.Info("the TEI server limits the inputs per request; lowering max inputs", "from", old, "to", limit)
			return
		}
	}
}

type teiRequest struct {
	Inputs    []string `json:"inputs"`
	Truncate  bool     `json:"truncate"`
	Normalize bool     `json:"normalize"`
}

// post sends one request; base is the position of inputs[0] in the
// caller's slice. When the server refuses the batch's size and names its
// limit, that limit is returned with the error.
func (t *TEI) post(ctx context.Context, inputs []string, base int) ([][]float32, int, error) {
	body, err := json.Marshal(teiRequest{Inputs: inputs, Truncate: false, Normalize: true})
	if err != nil {
		return nil, 0, fault.Server(fmt.Errorf("embed: encoding request: %w", err), 0)
	}
	limit := 0
	data, err := request{
		client: t.client, method: http.MethodPost, url: t.endpoint,
		apiKey: t.cfg.APIKey, timeout: t.cfg.Timeout, body: body,
		status: func(resp *http.Response, b []byte) error {
			if resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusUnprocessableEntity {
				limit = batchLimit(b)
			}
			if resp.StatusCode == http.StatusNotFound && !t.answered.Load() {
				return notFound(t.endpoint, b, teiHint(t.base))
			}
			return t.statusError(resp, b, len(inputs), base)
		},
	}.do(ctx)
	if err != nil {
		return nil, limit, err
	}
	vecs, err := t.decode(data, len(inputs), base)
	if err == nil {
		t.answered.Store(true)
	}
	return vecs, 0, err
}

// teiHint suggests the URL to use instead of base, whose /embed answered
// 404.
func teiHint(base string) string {
	const rule = "TEI's native API takes the server's root URL, such as tei+http://HOST:PORT (requests go to ROOT/embed)"
	u, err := url.Parse(base)
	if err != nil || u.Path == "" || u.Path == "/" {
		return rule + "; for an OpenAI-compatible server use its /v1 URL without tei+"
	}
	u.Path = ""
	return rule + ": try tei+" + u.String()
}

// statusError applies TEI's conventions, then the common rules.
func (t *TEI) statusError(resp *http.Response, body []byte, n, base int) error {
	code := resp.StatusCode
	if (code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity) && isInputLength(body) {
		err := fmt.Errorf("embed: POST %s: %w", t.endpoint,
			&StatusError{StatusCode: code, Body: truncate(body, maxBodyInError)})
		if i := inputIndex(body, n); i >= 0 {
			return fault.RecordAt(base+i, err)
		}
		if n == 1 {
			return fault.RecordAt(base, err)
		}
		return fault.Batch(err)
	}
	return statusError(t.endpoint, resp, body, n, base)
}

var (
	// inputLengthRE recognises a refusal of an input's length: TEI's
	// "`inputs` must have less than 512 tokens. Given: 600", and the
	// wordings of other servers.
	inputLengthRE = regexp.MustCompile(`(?i)less than \d+ tokens|\btoo long\b|\b(?:max|maximum)\b.{0,20}\b(?:input|sequence|context)[ _-]?length|\bcontext[ _-]length|\btokens?\b.{0,40}\b(?:exceeds?|over|more than|greater than|limit)\b`)
	// batchLimitRE finds the limit in TEI's "batch size 40 > maximum
	// allowed batch size 32".
	batchLimitRE = regexp.MustCompile(`(?i)maximum allowed batch size\D{0,4}(\d{1,9})`)
)

func isInputLength(body []byte) bool { return inputLengthRE.Match(body) }

// batchLimit returns the batch limit named in a refusal, or 0.
func batchLimit(body []byte) int {
	m := batchLimitRE.FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// decode parses a 2xx answer for n inputs and checks every vector.
func (t *TEI) decode(data []byte, n, base int) ([][]float32, error) {
	var vs []vector
	err := json.Unmarshal(data, &vs)
	if err != nil {
		var se *json.SyntaxError
		if fixed, ok := quoteNonFinite(data); ok && errors.As(err, &se) {
			vs = nil
			err = json.Unmarshal(fixed, &vs)
		}
	}
	if err != nil {
		return nil, fault.Server(fmt.Errorf("embed: POST %s: malformed answer: %w (body: %s)",
			t.endpoint, err, truncate(data, maxBodyInError)), 0)
	}
	if len(vs) != n {
		// TEI's answer is positional: a missing vector cannot be pinned
		// on one input.
		return nil, fault.Server(fmt.Errorf("embed: POST %s: malformed answer: %d vectors for %d inputs",
			t.endpoint, len(vs), n), 0)
	}
	out := make([][]float32, n)
	for i, v := range vs {
		out[i] = v
	}
	if err := checkVectors(t.endpoint, out, base, &t.dim, t.log, t.model); err != nil {
		return nil, err
	}
	return out, nil
}
