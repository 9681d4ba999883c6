// Command ragpipe runs a RAG ingestion pipeline on Kafka: it provisions the
// topics, parses and chunks documents, embeds chunks, indexes vectors and
// searches them. See `ragpipe --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	code, print := exitCode(err)
	if print {
		fmt.Fprintln(os.Stderr, "ragpipe:", err)
	}
	stop()
	os.Exit(code)
}
