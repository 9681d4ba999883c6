package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config says how to reach a Kafka cluster.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TLS enables TLS; TLSCAFile adds a CA bundle to the system pool.
	TLS       bool
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a PEM client certificate and its key,
	// for brokers that require one (both or neither; they imply TLS).
	TLSCertFile string
	TLSKeyFile  string
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
	// DialTimeout bounds one connection attempt (default 5s).
	DialTimeout time.Duration
	// ClientID names the client in broker logs (default "ragpipe").
	ClientID string
}

// ParseBrokers splits a comma-separated broker list.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("no brokers: pass --brokers host:port or set RAGPIPE_BROKERS")
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASLMechanism)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("a TLS client certificate needs both --tls-cert and --tls-key")
	}
	if c.SASLMechanism != "" && c.SASLUser == "" {
		return errors.New("SASL needs a user: pass --sasl-user or set RAGPIPE_SASL_USER")
	}
	return nil
}

// Opts returns the franz-go options for this cluster.
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	dial := c.DialTimeout
	if dial == 0 {
		dial = 5 * time.Second
	}
	id := c.ClientID
	if id == "" {
		id = "ragpipe"
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.DialTimeout(dial), kgo.ClientID(id)}
	if c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
			if err != nil {
				return nil, fmt.Errorf("reading the TLS client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("reading TLS CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("TLS CA file %s holds no PEM certificate", c.TLSCAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// Check connects to the cluster and returns a clear error if it cannot be
// reached within timeout (a down broker must not hang a command).
func Check(ctx context.Context, c Config, timeout time.Duration) error {
	opts, err := c.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(1))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("cannot connect to Kafka at %s (%s): %w",
			strings.Join(c.Brokers, ","), hint(err, timeout), err)
	}
	return nil
}

// hint says what to check for a failed connection. Messages never include
// the password.
func hint(err error, timeout time.Duration) string {
	var (
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		host    x509.HostnameError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &host),
		strings.Contains(msg, "certificate"), strings.Contains(msg, "tls:"):
		return "TLS failed: check --tls-ca (the CA that signed the broker's certificate) and --tls-cert/--tls-key"
	case strings.Contains(msg, "SASL") || strings.Contains(msg, "uthentication"):
		return "authentication failed: check --sasl-mechanism, --sasl-user and RAGPIPE_SASL_PASSWORD"
	case strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset"):
		return "the broker closed the connection: does the listener expect TLS (--tls) or SASL?"
	default:
		return fmt.Sprintf("no answer within %s: is the broker running? see --brokers", timeout)
	}
}
