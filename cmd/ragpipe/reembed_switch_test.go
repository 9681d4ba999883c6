package main

import (
	"bytes"
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
	dead        int64
	done        chan error
	stopped     bool
	atStop      int64
}

func (f *fakeReembed) log(e string) {
	f.events = append(f.events, e)
}

func (f *fakeReembed) switchover(follow, allow bool) *switchover {
	return &switchover{
		name: "ns", group: "ragpipe-reembed-ns", model: "m", dim: 2, follow: follow, allowFailures: allow,
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
		chunks:       func(context.Context) (int, error) { return 0, errors.New("no count") },
		deadLettered: func() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.dead },
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
	err := f.switchover(false, false).run(t.Context(), stage.Target{"p": {0: 10}}, false, f.done, f.stop)
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

// Records dead-lettered during the re-embedding keep reembed from
// switching: it stops the engine and exits 3 naming how many and where
// they are; --allow-failures switches anyway.
func TestReembedRefusesToSwitchAfterDeadLetters(t *testing.T) {
	f := newFake(10)
	f.dead = 2
	err := f.switchover(false, false).run(t.Context(), stage.Target{"p": {0: 10}}, false, f.done, f.stop)
	code, _ := exitCode(err)
	if code != exitAttention || err == nil {
		t.Fatalf("exit %d (%v), want %d", code, err, exitAttention)
	}
	for _, want := range []string{"2 record(s)", "documents.dlq", "stage reembed", "--allow-failures", "not switching search to ns"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("message %q lacks %q", err, want)
		}
	}
	if got := strings.Join(f.events, ","); got != "stop" {
		t.Fatalf("events %s, want the engine stopped and nothing activated", got)
	}

	f = newFake(10)
	f.dead = 2
	var out bytes.Buffer
	sw := f.switchover(false, true)
	sw.out = &out
	if err := sw.run(t.Context(), stage.Target{"p": {0: 10}}, false, f.done, f.stop); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.events, ","); got != "activate,ends,stop" {
		t.Fatalf("with --allow-failures: events %s, want activate,ends,stop", got)
	}
	if !strings.Contains(out.String(), "2 record(s) failed") || !strings.Contains(out.String(), "chunks unknown") {
		t.Fatalf("with --allow-failures the output does not warn: %s", out.String())
	}
}

// A failed activation stops the engine and waits for it before
// returning (the caller then closes the store, client and metrics).
func TestReembedActivateErrorStopsTheEngineFirst(t *testing.T) {
	f := newFake(10)
	f.activateErr = errors.New("registry unavailable")
	err := f.switchover(false, false).run(t.Context(), stage.Target{"p": {0: 10}}, false, f.done, f.stop)
	if !errors.Is(err, f.activateErr) {
		t.Fatalf("err %v", err)
	}
	if got := strings.Join(f.events, ","); got != "activate,stop" || len(f.done) != 0 {
		t.Fatalf("events %s (done pending: %d), want activate,stop with the engine's end received", got, len(f.done))
	}
}
