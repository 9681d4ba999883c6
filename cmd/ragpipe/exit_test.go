package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/broker"
)

// ragpipe runs the command tree in-process and returns its exit code and
// output.
func ragpipe(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code, _ := exitCode(err)
	if err != nil {
		out.WriteString("\nerror: " + err.Error())
	}
	return code, out.String()
}

func embeddedBroker(t *testing.T) string {
	t.Helper()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return strings.Join(b.Addrs(), ",")
}

func TestTopicsApplyExitsOnDriftUnlessAllowed(t *testing.T) {
	brokers := embeddedBroker(t)
	if code, out := ragpipe(t, "--brokers", brokers, "topics", "apply", "--replication-factor", "1", "--partitions", "2"); code != exitOK {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	if code, out := ragpipe(t, "--brokers", brokers, "topics", "apply", "--replication-factor", "1", "--partitions", "2"); code != exitOK {
		t.Fatalf("unchanged: exit %d\n%s", code, out)
	}
	code, out := ragpipe(t, "--brokers", brokers, "topics", "apply", "--replication-factor", "1", "--partitions", "3")
	if code != exitDrift || !strings.Contains(out, "drift found") {
		t.Fatalf("drift: exit %d, want %d\n%s", code, exitDrift, out)
	}
	if code, out := ragpipe(t, "--brokers", brokers, "topics", "apply", "--replication-factor", "1", "--partitions", "3", "--allow-drift"); code != exitOK {
		t.Fatalf("--allow-drift: exit %d\n%s", code, out)
	}
}

func TestIngestExitsWhenAFileFailedAfterIngestingTheRest(t *testing.T) {
	brokers := embeddedBroker(t)
	if code, out := ragpipe(t, "--brokers", brokers, "topics", "apply", "--replication-factor", "1", "--partitions", "2"); code != exitOK {
		t.Fatalf("topics: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a.md":   "# A\n\nfirst document\n",
		"b.md":   "# B\n\nsecond document\n",
		"bad.md": "\x00\x01binary",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out := ragpipe(t, "--brokers", brokers, "ingest", dir)
	if code != exitSomeFailed || !strings.Contains(out, "ingested 2 document(s)") || !strings.Contains(out, "1 file(s) failed") {
		t.Fatalf("exit %d, want %d\n%s", code, exitSomeFailed, out)
	}
	if err := os.Remove(filepath.Join(dir, "bad.md")); err != nil {
		t.Fatal(err)
	}
	if code, out := ragpipe(t, "--brokers", brokers, "ingest", dir); code != exitOK {
		t.Fatalf("all good: exit %d\n%s", code, out)
	}
}
