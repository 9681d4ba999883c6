// Command ragpipe runs a RAG ingestion pipeline on Kafka: it provisions the
// topics, parses and chunks documents, embeds chunks, indexes vectors and
// searches them. See `ragpipe --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, "ragpipe:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "ragpipe:", err)
		os.Exit(1)
	}
}
