package stage

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// acks keeps the first produce error of a command's run (ingest, submit).
type acks struct {
	mu  sync.Mutex
	err error
}

// promise is the produce callback.
func (a *acks) promise(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
}

// wait flushes cl and returns the first produce error, for stage what.
func (a *acks) wait(ctx context.Context, cl *kgo.Client, what string) error {
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("%s: waiting for acknowledgements: %w", what, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return fmt.Errorf("%s: producing: %w", what, a.err)
	}
	return nil
}
