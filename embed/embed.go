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
// 401 or 403. It has no fault class: workers treat it as fatal.
var ErrUnauthorized = errors.New("embedding server refused the credentials")

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
	// Embedder is "hash" for the in-process Hash embedder, or the base URL
	// of an OpenAI-compatible server, such as http://127.0.0.1:8081/v1.
	Embedder string
	// Model is the model to ask the server for. It is required for a URL.
	// For "hash" it must be empty or "hash-<Dim>".
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
	// Timeout, MaxInputs, HTTPClient and Logger are passed to Config.
	Timeout    time.Duration
	MaxInputs  int
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Validate reports whether s describes an embedder Open can build.
func (s Spec) Validate() error {
	if s.Dim < 0 {
		return fmt.Errorf("embed: negative dimension %d", s.Dim)
	}
	switch {
	case s.Embedder == "":
		return errors.New("embed: no embedder given (want \"hash\" or an http(s) URL)")
	case s.Embedder == "hash":
		dim := s.Dim
		if dim == 0 {
			dim = DefaultHashDim
		}
		if s.Model != "" && s.Model != hashModel(dim) {
			return fmt.Errorf("embed: the hash embedder's model is %q, not %q", hashModel(dim), s.Model)
		}
		return nil
	case isHTTPURL(s.Embedder):
		if s.Model == "" {
			return fmt.Errorf("embed: a model name is required for %s", s.Embedder)
		}
		if s.Timeout < 0 || s.MaxInputs < 0 {
			return errors.New("embed: negative timeout or max inputs")
		}
		return nil
	default:
		return fmt.Errorf("embed: unknown embedder %q (want \"hash\" or an http(s) URL)", s.Embedder)
	}
}

// Open builds the Embedder that s describes. The API key is resolved here,
// once; nothing reads the environment later.
func Open(s Spec) (Embedder, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Embedder == "hash" {
		return NewHash(s.Dim), nil
	}
	return NewOpenAI(Config{
		BaseURL:    s.Embedder,
		Model:      s.Model,
		APIKey:     s.apiKey(),
		Timeout:    s.Timeout,
		MaxInputs:  s.MaxInputs,
		Dimensions: s.Dim,
		HTTPClient: s.HTTPClient,
		Logger:     s.Logger,
	})
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
