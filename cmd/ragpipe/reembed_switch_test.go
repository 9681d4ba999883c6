package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/stage"
)

// fakeReembed is a re-embedding whose group commits one more offset of
// partition p/0 each time its progress is read.
type fakeReembed struct {
	mu          sync.Mutex
	committed   int64
	end         int64 // what ends reports
	events      []string
	activateErr error
	done        chan error
	stopped     bool
	atStop      int64
}

func (f *fakeReembed) log(e string) {
	f.events = append(f.events, e)
}

func (f *fakeReembed) switchover(follow bool) *switchover {
	return &switchover{
		name: "ns", group: "ragpipe-reembed-ns", model: "m", dim: 2, follow: follow,
		poll: time.Millisecond, out: io.Discard, logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		progress: func(_ context.Context, t stage.Target) ([]stage.Behind, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if !f.stopped {
				f.committed++
			}
			if f.committed < t["p"][0] {
				return []stage.Behind{{Topic: "p", Partition: 0, Committed: f.committed, Target: t["p"][0]}}, nil
			}
			return nil, nil
		},
		ends: func(context.Context) (stage.Target, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.log("ends")
			return stage.Target{"p": {0: f.end}}, nil
		},
		activate: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.log("activate")
			return f.activateErr
		},
		chunks: func(context.Context) (int, error) { return 0, errors.New("no count") },
	}
}

func (f *fakeReembed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped, f.atStop = true, f.committed
		f.log("stop")
		f.done <- nil
	}
}

func newFake(end int64) *fakeReembed {
	return &fakeReembed{end: end, done: make(chan error, 1)}
}

// Without --follow, reembed keeps running after the switch until its
// group reaches the end offsets noted at the switch (what the live
// pipeline indexed into the old namespace until then), and only then
// stops the engine: here the first target is offset 10, the second 25.
func TestReembedFinalCatchUpAfterTheSwitch(t *testing.T) {
	f := newFake(25)
	err := f.switchover(false).run(t.Context(), stage.Target{"p": {0: 10}}, false, f.done, f.stop)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.events, ","); got != "activate,ends,stop" {
		t.Fatalf("events %s, want activate,ends,stop", got)
	}
	if f.atStop < 25 {
		t.Fatalf("the engine was stopped at offset %d, before the end noted at the switch (25)", f.atStop)
	}
}

// A failed activation stops the engine and waits for it before
// returning (the caller then closes the store, client and metrics).
func TestReembedActivateErrorStopsTheEngineFirst(t *testing.T) {
	f := newFake(10)
	f.activateErr = errors.New("registry unavailable")
	err := f.switchover(false).run(t.Context(), stage.Target{"p": {0: 10}}, false, f.done, f.stop)
	if !errors.Is(err, f.activateErr) {
		t.Fatalf("err %v", err)
	}
	if got := strings.Join(f.events, ","); got != "activate,stop" || len(f.done) != 0 {
		t.Fatalf("events %s (done pending: %d), want activate,stop with the engine's end received", got, len(f.done))
	}
}
