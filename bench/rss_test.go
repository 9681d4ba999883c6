package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/engine"
)

// TestMain doubles as the producer process of BenchmarkBacklogRSS, so
// that producing the backlog does not count in the worker's memory.
func TestMain(m *testing.M) {
	if spec := os.Getenv("RAGPIPE_BENCH_PRODUCE"); spec != "" {
		if err := produceBacklog(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// produceBacklog writes n records of size bytes to topic: "addr,topic,n,size".
func produceBacklog(spec string) error {
	parts := strings.Split(spec, ",")
	n, _ := strconv.Atoi(parts[2])
	size, _ := strconv.Atoi(parts[3])
	cl, err := kgo.NewClient(kgo.SeedBrokers(parts[0]), kgo.ProducerLinger(10*time.Millisecond),
		kgo.MaxBufferedRecords(100000), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	pad := make([]byte, size)
	var errs atomic.Int64
	for i := range n {
		key := []byte("tenant/doc-" + strconv.Itoa(i/100)) // 100 chunks per document
		cl.Produce(context.Background(), &kgo.Record{Topic: parts[1], Key: key, Value: pad}, func(_ *kgo.Record, err error) {
			if err != nil {
				errs.Add(1)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		return err
	}
	if errs.Load() > 0 {
		return fmt.Errorf("%d produce errors", errs.Load())
	}
	return nil
}

// BenchmarkBacklogRSS drains a backlog of 1,000,000 records (200 bytes,
// 10,000 documents) with a 16 MiB and the default 64 MiB in-flight bound and reports the
// worker's resident memory as it goes: it stays flat because fetching
// pauses at the bound. The broker and the producer run in other processes.
func BenchmarkBacklogRSS(b *testing.B) {
	for _, bound := range []int64{16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("max-in-flight-%dMiB", bound>>20), func(b *testing.B) { backlogRSS(b, bound, 0) })
	}
}

// BenchmarkStuckHeadRSS drains the same backlog while the first record of
// partition 0 hangs for 15 s: done records behind it count against the
// bound until the watermark passes them, so the partition pauses and the
// worker's memory stays within the bound instead of growing with what
// the other records complete.
func BenchmarkStuckHeadRSS(b *testing.B) {
	for _, bound := range []int64{16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("max-in-flight-%dMiB", bound>>20), func(b *testing.B) { backlogRSS(b, bound, 15*time.Second) })
	}
}

func backlogRSS(b *testing.B, bound int64, stuckFor time.Duration) {
	const records, size = 1_000_000, 200
	for range b.N {
		dir := b.TempDir()
		bin := filepath.Join(dir, "ragpipe")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/ragpipe/ragpipe/cmd/ragpipe").CombinedOutput(); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
		port := freePort(b)
		brokerCmd := exec.Command(bin, "broker", "--port", strconv.Itoa(port), "--data", filepath.Join(dir, "broker"))
		if err := brokerCmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = brokerCmd.Process.Kill(); _ = brokerCmd.Wait() })
		addr := "127.0.0.1:" + strconv.Itoa(port)
		waitPort(b, addr)
		c := connect(b, []string{addr}, 6, "in")
		prod := exec.Command(os.Args[0])
		prod.Env = append(os.Environ(), fmt.Sprintf("RAGPIPE_BENCH_PRODUCE=%s,in,%d,%d", addr, records, size))
		if out, err := prod.CombinedOutput(); err != nil {
			b.Fatalf("producer: %v\n%s", err, out)
		}
		c.cl.Close()
		debug.FreeOSMemory()
		before := rssMB(b)

		var done atomic.Int64
		var peak atomic.Int64
		samples := map[int]float64{}
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					r := rssMB(b)
					if int64(r) > peak.Load() {
						peak.Store(int64(r))
					}
					pct := int(done.Load() * 100 / records)
					for _, q := range []int{10, 50, 90} {
						if _, ok := samples[q]; !ok && pct >= q {
							samples[q] = r
						}
					}
				}
			}
		}()
		g := newGPU(0, 0, 8)
		h := g.handler("", &done, nil)
		var stuckPeak atomic.Int64
		if stuckFor > 0 {
			inner := h
			h = func(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
				for _, r := range batch {
					if r.Partition == 0 && r.Offset == 0 { // hangs, while the rest flows
						for end := time.Now().Add(stuckFor); time.Now().Before(end) && ctx.Err() == nil; {
							stuckPeak.Store(max(stuckPeak.Load(), int64(rssMB(b))))
							time.Sleep(20 * time.Millisecond)
						}
					}
				}
				return inner(ctx, batch)
			}
		}
		took, _ := runUntil(b, engine.Config{
			Group: "bench", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(addr)},
			Handler: h, BatchMaxRecords: 256, MaxInFlightBatches: 8,
			MaxInFlightBytes: bound,
		}, &done, records)
		close(stop)
		<-sampled
		b.ReportMetric(before, "MB-rss-before")
		b.ReportMetric(samples[10], "MB-rss-at-10%")
		b.ReportMetric(samples[50], "MB-rss-at-50%")
		b.ReportMetric(samples[90], "MB-rss-at-90%")
		b.ReportMetric(float64(peak.Load()), "MB-rss-peak")
		if stuckFor > 0 {
			b.ReportMetric(float64(stuckPeak.Load()), "MB-rss-peak-while-stuck")
		}
		b.ReportMetric(float64(records)/took.Seconds(), "records/s")
	}
}

func rssMB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(b *testing.B, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("broker at %s did not start", addr)
}
