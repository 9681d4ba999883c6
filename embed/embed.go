package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Embedder turns texts into vectors.
//
// Embed returns exactly len(inputs) vectors, the i-th for inputs[i], or an
// error classified with package fault (see the package documentation). It
// never returns a partial result together with an error. Implementations
// are safe for concurrent use.
//
// Model names the model that produced the vectors; vectors from different
// models must not be compared.
type Embedder interface {
	Embed(ctx context.Context, inputs []string) ([][]float32, error)
	Model() string
}

// ErrUnauthorized is wrapped by the error returned when the server answers
// 401 or 403. That error is of class fault.ClassFatal: workers stop.
var ErrUnauthorized = errors.New("embedding server refused the credentials")

// ErrNotFound is wrapped by the (fault.Fatal) error returned when an
// endpoint that has never answered an embedding request answers 404: the
// configured URL is wrong. After a first success a 404 is a fault.Server
// error (a proxy or a restarting server), and does not wrap ErrNotFound.
var ErrNotFound = errors.New("no embedding API at this URL")

// ErrTimeout is wrapped by the (fault.Server) error returned when the server
// did not answer within Config.Timeout.
var ErrTimeout = errors.New("embedding request timed out")

// Default environment variables holding the API key, tried in order.
const (
	EnvAPIKey       = "RAGPIPE_EMBEDDER_API_KEY"
	EnvOpenAIAPIKey = "OPENAI_API_KEY"
)

// Spec describes an embedder to Open.
type Spec struct {
	// Embedder is one of:
	//   - "hash": the in-process Hash embedder;
	//   - the base URL of an OpenAI-compatible server, such as
	//     http://127.0.0.1:8081/v1 (requests go to URL/embeddings);
	//   - "tei+" and the root URL of a text-embeddings-inference server,
	//     such as tei+http://127.0.0.1:8080, for its native API (requests go
	//     to URL/embed, limits are read from URL/info).
	Embedder string
	// Model is the model to ask the server for. It is required for an
	// OpenAI-compatible URL; for TEI it is optional (default: the server's
	// model_id). For "hash" it must be empty or "hash-<Dim>".
	Model string
	// Dim is the vector dimension: the Hash dimension (default 384), or the
	// dimension expected from the server (0 = learn from the first answer).
	Dim int
	// APIKey, if set, is used as is. Otherwise it is read at Open from the
	// environment variable APIKeyEnv, or when that is empty from
	// RAGPIPE_EMBEDDER_API_KEY, falling back to OPENAI_API_KEY.
	APIKey    string
	APIKeyEnv string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Timeout, MaxInputs, MaxInputTokens, HTTPClient and Logger are passed
	// to Config or TEIConfig (where a zero MaxInputs or MaxInputTokens
	// means the server's /info). The hash embedder ignores them.
	Timeout        time.Duration
	MaxInputs      int
	MaxInputTokens int
	HTTPClient     *http.Client
	Logger         *slog.Logger
}

// teiPrefix marks a TEI native URL in Spec.Embedder.
const teiPrefix = "tei+"

// kind returns what s.Embedder names: "hash", "openai", "tei" or "", and
// for a URL the URL itself (without "tei+").
func (s Spec) kind() (kind, baseURL string) {
	switch {
	case s.Embedder == "hash":
		return "hash", ""
	case len(s.Embedder) > len(teiPrefix) && strings.EqualFold(s.Embedder[:len(teiPrefix)], teiPrefix) &&
		isHTTPURL(s.Embedder[len(teiPrefix):]):
		return "tei", s.Embedder[len(teiPrefix):]
	case isHTTPURL(s.Embedder):
		return "openai", s.Embedder
	}
	return "", ""
}

// remote reports whether s names a server (not the in-process embedder).
func (s Spec) remote() bool {
	k, _ := s.kind()
	return k == "openai" || k == "tei"
}

// Validate reports whether s describes an embedder Open can build.
func (s Spec) Validate() error {
	if s.Dim < 0 {
		return fmt.Errorf("embed: negative dimension %d", s.Dim)
	}
	kind, _ := s.kind()
	switch kind {
	case "hash":
		dim := s.Dim
		if dim == 0 {
			dim = DefaultHashDim
		}
		if s.Model != "" && s.Model != hashModel(dim) {
			return fmt.Errorf("embed: the hash embedder's model is %q, not %q", hashModel(dim), s.Model)
		}
		return nil
	case "openai", "tei":
		if kind == "openai" && s.Model == "" {
			return fmt.Errorf("embed: a model name is required for %s", s.Embedder)
		}
		if s.Timeout < 0 || s.MaxInputs < 0 || s.MaxInputTokens < 0 {
			return errors.New("embed: negative timeout, max inputs or max input tokens")
		}
		return nil
	case "":
		if s.Embedder == "" {
			return errors.New("embed: no embedder given (want \"hash\", an http(s) URL or tei+ and an http(s) URL)")
		}
	}
	return fmt.Errorf("embed: unknown embedder %q (want \"hash\", an http(s) URL or tei+ and an http(s) URL)", s.Embedder)
}

// Open builds the Embedder that s describes. The API key is resolved here,
// once; nothing reads the environment later. For TEI, Open reads the
// server's /info (see NewTEI).
func Open(s Spec) (Embedder, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch kind, u := s.kind(); kind {
	case "hash":
		return NewHash(s.Dim), nil
	case "tei":
		return NewTEI(TEIConfig{
			BaseURL:        u,
			Model:          s.Model,
			APIKey:         s.apiKey(),
			Timeout:        s.Timeout,
			MaxInputs:      s.MaxInputs,
			MaxInputTokens: s.MaxInputTokens,
			Dimensions:     s.Dim,
			HTTPClient:     s.HTTPClient,
			Logger:         s.Logger,
		})
	default:
		return NewOpenAI(Config{
			BaseURL:        u,
			Model:          s.Model,
			APIKey:         s.apiKey(),
			Timeout:        s.Timeout,
			MaxInputs:      s.MaxInputs,
			MaxInputTokens: s.MaxInputTokens,
			Dimensions:     s.Dim,
			HTTPClient:     s.HTTPClient,
			Logger:         s.Logger,
		})
	}
}

// OpenAll builds one Embedder from several specs, for a command line that
// accepts --embedder more than once (each occurrence a Spec, typically all
// sharing the model and other flags). It is OpenAllWith with the default
// PoolConfig.
func OpenAll(specs []Spec) (Embedder, error) {
	return OpenAllWith(specs, PoolConfig{})
}

// OpenAllWith builds one Embedder from several specs, with cfg for the
// Pool.
//
// One spec gives that embedder; if it is remote it is wrapped in a Pool of
// one, so that a failing server trips a circuit breaker (Embed then fails
// fast with a fault.Server error and a Retry-After instead of waiting on a
// dead server), its batch limit is learned and hung requests are hedged.
// Several specs give a Pool that spreads calls over them and fails over
// between them (see Pool); they must all name the same model. The Pool
// logs with cfg.Logger, or when that is nil with the first spec's Logger.
// An error from any spec fails the whole call, naming the spec.
func OpenAllWith(specs []Spec, cfg PoolConfig) (Embedder, error) {
	if len(specs) == 0 {
		return nil, errors.New("embed: no embedder given")
	}
	ems := make([]Embedder, len(specs))
	for i, s := range specs {
		e, err := Open(s)
		if err != nil {
			if len(specs) == 1 {
				return nil, err
			}
			return nil, fmt.Errorf("embed: embedder %d of %d (%s): %w", i+1, len(specs), s.Embedder, err)
		}
		ems[i] = e
	}
	if len(specs) == 1 && !specs[0].remote() {
		return ems[0], nil
	}
	if cfg.Logger == nil {
		cfg.Logger = specs[0].Logger
	}
	return NewPool(ems, cfg)
}

// New is Open(Spec{Embedder: spec, Model: model}).
func New(spec, model string) (Embedder, error) {
	return Open(Spec{Embedder: spec, Model: model})
}

func (s Spec) apiKey() string {
	if s.APIKey != "" {
		return s.APIKey
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if s.APIKeyEnv != "" {
		return getenv(s.APIKeyEnv)
	}
	if k := getenv(EnvAPIKey); k != "" {
		return k
	}
	return getenv(EnvOpenAIAPIKey)
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}
