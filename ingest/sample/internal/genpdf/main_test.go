package main

import (
	"bytes"
	"os"
	"testing"
)

// The committed sample PDF is what the generator writes (run
// `go generate ./ingest/sample` after changing it).
func TestCommittedPDF(t *testing.T) {
	want, err := build()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := build()
	if !bytes.Equal(want, again) {
		t.Fatal("the generator is not deterministic")
	}
	got, err := os.ReadFile("../../corpus/operations/on-call-handbook.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("corpus/operations/on-call-handbook.pdf differs from the generator's output: run go generate ./ingest/sample")
	}
}
