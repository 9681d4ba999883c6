package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ErrNoModelListed is wrapped by DiscoverModel's error when the server
// lists no model, or has no model list (404): a model must be named.
var ErrNoModelListed = errors.New("the server lists no model")

// ErrSeveralModels is wrapped by DiscoverModel's error when the server
// lists more than one model: one must be chosen.
var ErrSeveralModels = errors.New("the server lists several models")

// NeedsModel reports whether s names an OpenAI-compatible server without a
// model, which DiscoverModel can fill in.
func (s Spec) NeedsModel() bool {
	k, _ := s.kind()
	return k == "openai" && s.Model == ""
}

// DiscoverModel asks the OpenAI-compatible server of s for its models
// (GET URL/models) and returns the one it lists. Several models give an
// error wrapping ErrSeveralModels that names them; none, or no list at
// all (404), an error wrapping ErrNoModelListed. The request uses the API
// key and HTTP client of s, and times out after s.Timeout (default 10s).
func DiscoverModel(ctx context.Context, s Spec) (string, error) {
	k, base := s.kind()
	if k != "openai" {
		return "", fmt.Errorf("embed: %s is not an OpenAI-compatible URL: %w", s.Embedder, ErrNoModelListed)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimRight(base, "/") + "/models"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("embed: %w", err)
	}
	if key := s.apiKey(); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("embed: listing models at %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("embed: %s: 404: %w", u, ErrNoModelListed)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("embed: listing models at %s: %d: %w", u, resp.StatusCode, ErrUnauthorized)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("embed: listing models at %s: status %d", u, resp.StatusCode)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
		return "", fmt.Errorf("embed: listing models at %s: %w", u, err)
	}
	var ids []string
	for _, m := range list.Data {
		if m.ID != "" && !slices.Contains(ids, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("embed: %s: %w", u, ErrNoModelListed)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("embed: %s: %w: %s", u, ErrSeveralModels, strings.Join(ids, ", "))
}
