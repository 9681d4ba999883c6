package broker

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedConfig configures an embedded broker.
type EmbeddedConfig struct {
	// DataDir persists topics, records and committed offsets; empty keeps
	// everything in memory.
	DataDir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// SyncWrites fsyncs every produced batch (slower, crash-safe).
	SyncWrites bool
}

// Validate checks the configuration.
func (c EmbeddedConfig) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("broker: port %d out of range", c.Port)
	}
	return nil
}

// Embedded is a running in-process broker.
type Embedded struct {
	cluster *kfake.Cluster
}

// StartEmbedded starts a single-node embedded broker on 127.0.0.1.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	port := cfg.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("ragpipe-embedded"),
		kfake.GroupMinSessionTimeout(100),
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("broker: data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: starting embedded broker on 127.0.0.1:%d: %w", port, err)
	}
	return &Embedded{cluster: c}, nil
}

// Addrs are the listen addresses, for --brokers.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Cluster exposes the underlying kfake cluster to tests (fault injection).
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker, flushing its data directory.
func (e *Embedded) Close() { e.cluster.Close() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("broker: finding a free port: %w", err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return strconv.Atoi(p)
}
