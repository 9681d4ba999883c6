package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// printConfig runs `ragpipe ARGS... config print CMD...` in-process and
// returns the printed YAML.
func printConfig(t *testing.T, args ...string) (map[string]any, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("config print is not YAML: %v\n%s", err, out.String())
	}
	return m, nil
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ragpipe.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Flags override the environment, which overrides the file; the file's
// command sections apply to their command only.
func TestConfigPrecedence(t *testing.T) {
	cfg := writeConfig(t, `
brokers: file:9092
log-format: json
embed:
  concurrency: 16
  batch-size: 32
  embedder: [http://a/v1, http://b/v1]
index:
  concurrency: 2
`)
	t.Setenv("RAGPIPE_CONCURRENCY", "12")
	t.Setenv("RAGPIPE_BROKERS", "env:9092")
	m, err := printConfig(t, "--config", cfg, "--brokers", "flag:9092", "config", "print", "embed")
	if err != nil {
		t.Fatal(err)
	}
	embed := m["embed"].(map[string]any)
	if m["brokers"] != "flag:9092" {
		t.Errorf("brokers = %v, want the flag's", m["brokers"])
	}
	if embed["concurrency"] != 12 {
		t.Errorf("concurrency = %v, want the environment's 12 over the file's 16", embed["concurrency"])
	}
	if embed["batch-size"] != 32 || m["log-format"] != "json" {
		t.Errorf("batch-size = %v, log-format = %v: want the file's", embed["batch-size"], m["log-format"])
	}
	if list, _ := embed["embedder"].([]any); len(list) != 2 || list[1] != "http://b/v1" {
		t.Errorf("embedder = %v, want the file's list", embed["embedder"])
	}

	t.Setenv("RAGPIPE_BROKERS", "env:9092")
	m, err = printConfig(t, "--config", cfg, "config", "print", "index")
	if err != nil {
		t.Fatal(err)
	}
	if m["brokers"] != "env:9092" {
		t.Errorf("brokers = %v, want the environment's over the file's", m["brokers"])
	}
	if c := m["index"].(map[string]any)["concurrency"]; c != 12 {
		t.Errorf("index concurrency = %v, want the environment's", c)
	}
	t.Setenv("RAGPIPE_CONCURRENCY", "")
	m, _ = printConfig(t, "--config", cfg, "config", "print", "index")
	if c := m["index"].(map[string]any)["concurrency"]; c != 2 {
		t.Errorf("index concurrency = %v, want the file's index section (2), not embed's", c)
	}
}

// Unknown keys are an error that names each of them.
func TestConfigUnknownKeys(t *testing.T) {
	cfg := writeConfig(t, "bogus: 1\nembed:\n  concurency: 3\ntopics:\n  apply:\n    partitons: 3\n")
	_, err := printConfig(t, "--config", cfg, "version")
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, k := range []string{"bogus", "embed.concurency", "topics.apply.partitons"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
}

// Secrets never appear in config print: passwords, API keys and the
// password of a DSN.
func TestConfigPrintRedactsSecrets(t *testing.T) {
	const secret = "hunter2-secret"
	cfg := writeConfig(t, "sasl-password: "+secret+"\nindex:\n  store: postgres://rag:"+secret+"@db:5432/rag\n")
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"--config", cfg, "config", "print", "index"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), secret) {
		t.Fatalf("a secret in config print:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "postgres://rag:REDACTED@db:5432/rag") {
		t.Fatalf("config print:\n%s", out.String())
	}
	m, err := printConfig(t, "config", "print", "embed")
	if err != nil {
		t.Fatal(err)
	}
	if v := m["embed"].(map[string]any)["max-input-tokens"]; v != 0 {
		t.Fatalf("max-input-tokens = %v: a token limit is not a secret", v)
	}
}
