package stage

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/ragpipe/ragpipe/ingest"
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

// walkRoots calls fn for every file under roots. A root that cannot be
// walked is reported on stderr (as command what) and the others go on;
// walkFailed says whether one was. err is the context's, when it ended.
func walkRoots(ctx context.Context, roots []string, stderr io.Writer, what string, fn func(ingest.File) error) (walkFailed bool, err error) {
	for _, root := range roots {
		if err := ingest.Walk(ctx, root, fn); err != nil {
			if ctx.Err() != nil {
				return walkFailed, ctx.Err()
			}
			walkFailed = true
			fmt.Fprintf(stderr, "ragpipe %s: %v\n", what, err)
		}
	}
	return walkFailed, nil
}
