package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
)

// globals are the flags every command shares.
type globals struct {
	brokers   string
	tls       bool
	tlsCA     string
	tlsCert   string
	tlsKey    string
	saslMech  string
	saslUser  string
	saslPass  string
	logLevel  string
	logFormat string
	config    string
	// configFile is the --config file's contents, loaded once per run.
	configFile map[string]any
	data       string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "ragpipe",
		Short: "A Kafka-based ingestion pipeline for retrieval-augmented generation",
		Long: `ragpipe runs RAG ingestion on Kafka. Every stage of a document's life is a topic:
files are parsed and chunked (ragpipe ingest → documents.parsed), chunks are embedded
(ragpipe embed → chunks.embedded), vectors are indexed (ragpipe index → vector store and
vectors.indexed); failures go to documents.failed and documents.dlq.

Start with "ragpipe demo". Workers join consumer groups: run more of them to scale out.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.brokers, "brokers", envOr("RAGPIPE_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma-separated (env RAGPIPE_BROKERS)")
	pf.BoolVar(&g.tls, "tls", envBool("RAGPIPE_TLS"), "connect with TLS (env RAGPIPE_TLS)")
	pf.StringVar(&g.tlsCA, "tls-ca", os.Getenv("RAGPIPE_TLS_CA"), "PEM CA bundle for TLS (env RAGPIPE_TLS_CA)")
	pf.StringVar(&g.tlsCert, "tls-cert", os.Getenv("RAGPIPE_TLS_CERT"), "PEM client certificate for brokers that require one (env RAGPIPE_TLS_CERT)")
	pf.StringVar(&g.tlsKey, "tls-key", os.Getenv("RAGPIPE_TLS_KEY"), "PEM key of --tls-cert (env RAGPIPE_TLS_KEY)")
	pf.StringVar(&g.saslMech, "sasl-mechanism", os.Getenv("RAGPIPE_SASL_MECHANISM"), "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env RAGPIPE_SASL_MECHANISM)")
	pf.StringVar(&g.saslUser, "sasl-user", os.Getenv("RAGPIPE_SASL_USER"), "SASL user (env RAGPIPE_SASL_USER)")
	pf.StringVar(&g.saslPass, "sasl-password", "", "SASL password (prefer env RAGPIPE_SASL_PASSWORD)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error (env RAGPIPE_LOG_LEVEL)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json (env RAGPIPE_LOG_FORMAT)")
	pf.StringVar(&g.config, "config", "", "YAML configuration file: global flags at the top, a command's flags under its name (env RAGPIPE_CONFIG); flags override env RAGPIPE_<FLAG>, which overrides the file")
	pf.StringVar(&g.data, "data", envOr("RAGPIPE_DATA", defaultDataDir()), "data folder (embedded vector store, embedded broker data) (env RAGPIPE_DATA)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		path := g.config
		if !cmd.Flags().Changed("config") {
			path = os.Getenv("RAGPIPE_CONFIG")
		}
		file, err := loadSources(cmd, path)
		if err != nil {
			return err
		}
		g.configFile = file
		return g.setupLogging(cmd)
	}
	root.AddCommand(
		newDemoCmd(g),
		newBrokerCmd(g),
		newTopicsCmd(g),
		newIngestCmd(g),
		newSubmitCmd(g),
		newParseCmd(g),
		newEmbedCmd(g),
		newIndexCmd(g),
		newSearchCmd(g),
		newReembedCmd(g),
		newDeleteCmd(g),
		newDLQCmd(g),
		newReplayCmd(g),
		newStatusCmd(g),
		newGpusimCmd(),
		newConfigCmd(g),
		newVersionCmd(),
	)
	return root
}

func (g *globals) setupLogging(cmd *cobra.Command) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch g.logFormat {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)))
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	return nil
}

// kafka returns the connection settings from the flags.
func (g *globals) kafka() broker.Config {
	pass := g.saslPass
	if pass == "" {
		pass = os.Getenv("RAGPIPE_SASL_PASSWORD")
	}
	return broker.Config{
		Brokers: broker.ParseBrokers(g.brokers), TLS: g.tls, TLSCAFile: g.tlsCA, TLSCertFile: g.tlsCert, TLSKeyFile: g.tlsKey,
		SASLMechanism: g.saslMech, SASLUser: g.saslUser, SASLPassword: pass,
	}
}

// admin checks that the cluster answers and returns a client and its admin
// client; the caller closes the client.
func (g *globals) admin(ctx context.Context) (*kgo.Client, *kadm.Client, error) {
	kc := g.kafka()
	if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
		return nil, nil, err
	}
	opts, err := kc.Opts()
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	return cl, kadm.NewClient(cl), nil
}

func (g *globals) storeDir() string { return filepath.Join(g.data, "store") }

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ragpipe")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "ragpipe")
	}
	return "ragpipe-data"
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envBool(k string) bool {
	v := strings.ToLower(os.Getenv(k))
	return v == "1" || v == "true" || v == "yes"
}
