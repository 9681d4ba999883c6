package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/event"
)

// secureCluster is the SASL_SSL and mTLS listeners that `make test` starts
// on its Kafka (scripts/kafka.sh start --secure).
type secureCluster struct {
	sasl, mtls, tlsDir, scramPass, plainPass string
}

func secure(t *testing.T) secureCluster {
	t.Helper()
	kafkaBrokers(t)
	c := secureCluster{
		sasl: os.Getenv("RAGPIPE_TEST_SASL_BROKERS"), mtls: os.Getenv("RAGPIPE_TEST_MTLS_BROKERS"),
		tlsDir: os.Getenv("RAGPIPE_TEST_TLS_DIR"), scramPass: os.Getenv("RAGPIPE_TEST_SCRAM_PASSWORD"),
		plainPass: os.Getenv("RAGPIPE_TEST_PLAIN_PASSWORD"),
	}
	if c.sasl == "" || c.mtls == "" || c.tlsDir == "" || c.scramPass == "" || c.plainPass == "" {
		if os.Getenv("RAGPIPE_REQUIRE_KAFKA") != "" {
			t.Fatal("the secure listeners are not set (RAGPIPE_TEST_SASL_BROKERS, …): `make test` starts Kafka with --secure")
		}
		t.Skip("no secure listeners; `make test` starts them")
	}
	return c
}

// runEnv runs ragpipe with extra environment variables and returns its
// combined output, its error and how long it took.
func runEnv(t *testing.T, timeout time.Duration, env []string, args ...string) (string, time.Duration, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	done := make(chan struct{})
	var out []byte
	var err error
	start := time.Now()
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("ragpipe %s did not finish within %s:\n%s", strings.Join(args, " "), timeout, out)
	}
	return string(out), time.Since(start), err
}

// SASL/SCRAM-SHA-512 over TLS with the right credentials: the pipeline
// works end to end (topics, ingest, embed), and the password appears in no
// output.
func TestSCRAMOverTLSEndToEnd(t *testing.T) {
	c := secure(t)
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	env := []string{"RAGPIPE_BROKERS=" + c.sasl, "RAGPIPE_TLS_CA=" + filepath.Join(c.tlsDir, "ca.pem"),
		"RAGPIPE_SASL_MECHANISM=SCRAM-SHA-512", "RAGPIPE_SASL_USER=alice", "RAGPIPE_SASL_PASSWORD=" + c.scramPass}
	var outputs []string
	out, _, err := runEnv(t, time.Minute, env, "topics", "apply", "--partitions", "3", "--replication-factor", "1")
	if err != nil {
		t.Fatalf("topics apply over SASL_SSL: %v\n%s", err, out)
	}
	outputs = append(outputs, out)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 5, 8)
	out, _, err = runEnv(t, time.Minute, env, "ingest", corpus)
	if err != nil {
		t.Fatalf("ingest over SASL_SSL: %v\n%s", err, out)
	}
	outputs = append(outputs, out)
	_, chunks := parseIngested(t, out)

	embedP := exec.Command(binary, "embed", "--group", "it-scram")
	embedP.Env = append(os.Environ(), env...)
	var logs syncBuffer
	embedP.Stdout, embedP.Stderr = &logs, &logs
	if err := embedP.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = embedP.Process.Kill(); _ = embedP.Wait() })
	embedded := readTopic(t, brokers, event.TopicEmbedded, time.Minute, embeddedCovers(chunks))
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	want, got, _ := checkEmbedded(t, parsed, embedded)
	if len(got) != len(want) {
		t.Fatalf("%d of %d chunks embedded over SASL_SSL\n%s", len(got), len(want), tail(logs.String(), 3000))
	}
	outputs = append(outputs, logs.String())
	for _, o := range outputs {
		if strings.Contains(o, c.scramPass) {
			t.Fatal("the SASL password appears in ragpipe's output")
		}
	}
}

// SASL/PLAIN over TLS, and TLS with a client certificate, both work.
func TestPLAINAndClientCertificate(t *testing.T) {
	c := secure(t)
	ca := filepath.Join(c.tlsDir, "ca.pem")
	plain := []string{"RAGPIPE_SASL_PASSWORD=" + c.plainPass}
	if out, _, err := runEnv(t, time.Minute, plain, "topics", "apply", "--brokers", c.sasl, "--tls-ca", ca,
		"--sasl-mechanism", "PLAIN", "--sasl-user", "bob", "--replication-factor", "1", "--allow-drift"); err != nil {
		t.Fatalf("topics apply with SASL/PLAIN: %v\n%s", err, out)
	}
	if out, _, err := runEnv(t, time.Minute, nil, "topics", "apply", "--brokers", c.mtls, "--tls-ca", ca,
		"--tls-cert", filepath.Join(c.tlsDir, "client.crt"), "--tls-key", filepath.Join(c.tlsDir, "client.key"),
		"--replication-factor", "1", "--allow-drift"); err != nil {
		t.Fatalf("topics apply with a client certificate: %v\n%s", err, out)
	}
}

// Wrong credentials, a wrong CA and a missing client certificate each fail
// within 10 s with a message that says what to check, and without the
// password.
func TestSecureClusterRefusalsAreClear(t *testing.T) {
	c := secure(t)
	ca := filepath.Join(c.tlsDir, "ca.pem")
	const wrong = "not-the-password-42"
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"wrong SCRAM password", []string{"RAGPIPE_SASL_PASSWORD=" + wrong},
			[]string{"--brokers", c.sasl, "--tls-ca", ca, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice"}, "authentication"},
		{"wrong PLAIN password", []string{"RAGPIPE_SASL_PASSWORD=" + wrong},
			[]string{"--brokers", c.sasl, "--tls-ca", ca, "--sasl-mechanism", "PLAIN", "--sasl-user", "bob"}, "authentication"},
		{"wrong CA", []string{"RAGPIPE_SASL_PASSWORD=" + c.scramPass},
			[]string{"--brokers", c.sasl, "--tls-ca", filepath.Join(c.tlsDir, "other-ca.pem"), "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice"}, "tls-ca"},
		{"no client certificate", nil,
			[]string{"--brokers", c.mtls, "--tls-ca", ca}, "tls-cert"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, took, err := runEnv(t, 30*time.Second, tc.env, append([]string{"topics", "apply", "--replication-factor", "1"}, tc.args...)...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			if took > 10*time.Second {
				t.Fatalf("took %s to fail, want within 10 s", took.Round(time.Millisecond))
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("message does not point at %q:\n%s", tc.want, out)
			}
			if strings.Contains(out, wrong) || strings.Contains(out, c.scramPass) {
				t.Fatalf("a password appears in the output:\n%s", out)
			}
		})
	}
}
