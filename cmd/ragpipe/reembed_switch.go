package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/stage"
)

// switchover is the part of `ragpipe reembed` that watches the group of
// a running re-embedding and switches search to its namespace. Its Kafka
// and store calls are functions, so that a test can drive it.
//
// It waits until the group's committed offsets reach target; refuses to
// switch (exitAttention) when the re-embedding dead-lettered records,
// unless allowFailures; activates the namespace; then, with follow, runs
// until the engine stops, and without it notes the end offsets again and
// runs until the group reaches them too (the final catch-up: what the
// live pipeline indexed into the old namespace from records past the
// first target is in the new one before reembed exits), then stops the
// engine.
type switchover struct {
	name, group   string
	model         string
	dim           int
	follow        bool
	allowFailures bool
	poll          time.Duration
	out           io.Writer
	logger        *slog.Logger

	// progress returns the partitions of t the group has not reached.
	progress func(ctx context.Context, t stage.Target) ([]stage.Behind, error)
	// ends notes the end offsets of the replayed topics now.
	ends func(ctx context.Context) (stage.Target, error)
	// activate switches search to the namespace (refusing an empty one).
	activate func(ctx context.Context) error
	// chunks counts the namespace's chunks.
	chunks func(ctx context.Context) (int, error)
	// deadLettered counts the re-embedding's dead letters so far.
	deadLettered func() int64
}

type switchPhase int

const (
	phaseBuilding  switchPhase = iota // catching up with the first target
	phaseFinal                        // activated; catching up with the second
	phaseFollowing                    // activated; following until stopped
)

// run watches the engine whose Run result arrives on done and which stop
// cancels, and returns reembed's outcome; it never returns while the
// engine may still run. active tells that the namespace is active
// already (a re-run with --follow).
func (s *switchover) run(ctx context.Context, target stage.Target, active bool, done <-chan error, stop func()) error {
	halt := func() error {
		stop()
		return <-done
	}
	phase := phaseBuilding
	if active {
		phase = phaseFollowing
	}
	var deadAtSwitch int64
	lastLog := time.Now()
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("reembed: %w", err)
			}
			switch phase {
			case phaseFollowing:
				return nil
			case phaseFinal:
				return &exitError{code: exitFailure, msg: fmt.Sprintf("reembed: index namespace %s is active, but reembed stopped before its final catch-up; versions indexed into the previous namespace just before the switch may be missing: run `ragpipe reembed --name %s --follow` until it has caught up (group %s)", s.name, s.name, s.group)}
			}
			return &exitError{code: exitFailure, msg: fmt.Sprintf("reembed: stopped before index namespace %s caught up; run the same command again to resume (group %s)", s.name, s.group)}
		case <-tick.C:
		}
		if phase == phaseFollowing {
			continue
		}
		behind, err := s.progress(ctx, target)
		if err != nil {
			s.logger.Warn("reembed: reading the group's progress", "group", s.group, "err", err)
			continue
		}
		if len(behind) > 0 {
			if time.Since(lastLog) >= 10*time.Second {
				lastLog = time.Now()
				var left int64
				for _, b := range behind {
					left += b.Target - max(b.Committed, 0)
				}
				s.logger.Info("reembed: catching up", "namespace", s.name, "partitions_behind", len(behind), "offsets_left", left)
			}
			continue
		}
		if phase == phaseFinal {
			if err := halt(); err != nil {
				return fmt.Errorf("reembed: %w", err)
			}
			if n := s.deadLettered() - deadAtSwitch; n > 0 {
				return &exitError{code: exitAttention, msg: fmt.Sprintf("reembed: index namespace %s is active, but %d record(s) failed in the final catch-up after the switch; they are in %s (stage reembed: `ragpipe dlq show --stage reembed`), and those document versions are not searchable until they are replayed or ingested again", s.name, n, event.TopicDLQ)}
			}
			return nil
		}
		if n := s.deadLettered(); n > 0 && !s.allowFailures {
			if err := halt(); err != nil {
				return fmt.Errorf("reembed: %w", err)
			}
			return &exitError{code: exitAttention, msg: fmt.Sprintf("reembed: %d record(s) failed during the re-embedding; they are in %s (stage reembed: `ragpipe dlq show --stage reembed`); not switching search to %s, since those document versions would drop out of search: fix and replay them (`ragpipe dlq replay --stage reembed`), then run the same command again, or pass --allow-failures to switch anyway", n, event.TopicDLQ, s.name)}
		}
		deadAtSwitch = s.deadLettered()
		if err := s.activate(ctx); err != nil {
			if herr := halt(); herr != nil {
				s.logger.Warn("reembed: stopping the engine", "err", herr)
			}
			return err
		}
		count := "chunks unknown"
		if n, err := s.chunks(ctx); err != nil {
			s.logger.Warn("reembed: counting the chunks of the new namespace", "namespace", s.name, "err", err)
		} else {
			count = fmt.Sprintf("%d chunks", n)
		}
		fmt.Fprintf(s.out, "reembed: index namespace %s is active (model %s, %d dims, %s); the previous one is retired and kept until `ragpipe reembed --drop NAME`\n", s.name, s.model, s.dim, count)
		if deadAtSwitch > 0 {
			fmt.Fprintf(s.out, "reembed: warning: switched with --allow-failures: %d record(s) failed during the re-embedding and are in %s (stage reembed); those document versions are not searchable in %s\n", deadAtSwitch, event.TopicDLQ, s.name)
		}
		fmt.Fprintf(s.out, "reembed: restart the embed workers with --model %s so that new documents land in %s\n", s.model, s.name)
		if s.follow {
			phase = phaseFollowing
			fmt.Fprintf(s.out, "reembed: following documents.parsed into %s until stopped\n", s.name)
			continue
		}
		target, err = s.ends(ctx)
		if err != nil {
			if herr := halt(); herr != nil {
				s.logger.Warn("reembed: stopping the engine", "err", herr)
			}
			return fmt.Errorf("reembed: %s is active, but noting the end offsets for the final catch-up failed (run `ragpipe reembed --name %s --follow` until it has caught up): %w", s.name, s.name, err)
		}
		phase = phaseFinal
		fmt.Fprintf(s.out, "reembed: catching up with what arrived until the switch\n")
	}
}
