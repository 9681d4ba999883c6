//go:build unix

package ingest

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLoadNamedPipe checks that Load refuses a named pipe instead of
// blocking on it (Walk never yields one, but a caller may pass any path).
func TestLoadNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.md")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := DefaultLoader().Load(File{Path: fifo}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("err = %v, want ErrUnsupported", err)
	}
}
