package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// env is what every scenario shares: the broker, the binaries, the logs.
type env struct {
	kafka   *cluster
	ragpipe string // the ragpipe binary
	self    string // this binary, for the baselines
	pcJar   string // the Parallel Consumer baseline's jar ("": not built)
	pcNote  string // why it was not built
	logs    string // folder of the processes' logs
}

// run is one scenario in progress.
type run struct {
	ctx     context.Context
	env     *env
	sc      scenario
	group   string
	gpus    []string // endpoint base URLs
	start   time.Time
	mu      sync.Mutex
	slots   []*proc // running workers by slot (nil: free)
	all     []*proc // every worker process started
	marks   []mark
	started int
}

// mark is an event of a scenario's script, for the figures.
type mark struct {
	At    time.Duration
	Label string
}

// result is what a scenario measured.
type result struct {
	sc       scenario
	v        verdict
	rate     float64 // chunks/s, steady state
	capShare float64 // rate over the gpusim capacity (0: not modelled)
	lat      latency
	// searchable is the ingest → searchable latency of each document
	// version announced on vectors.indexed (Index scenarios only).
	searchable latency
	indexed    int             // document versions announced
	lats       []time.Duration // sample, for the CDF
	peakRSS    int64
	cpuPer1k   float64
	timeline   []float64 // chunks/s per second from the start
	marks      []mark
	gap        time.Duration
	markGaps   []time.Duration // longest stall within 15 s after each mark
	took       time.Duration
	timedOut   bool
	capped     bool
	load       [2]string // /proc/loadavg at start and end
	workerRuns int
	// avgBatch is the records per request a baseline reported on exit
	// (Parallel Consumer; 0: not reported).
	avgBatch float64
	err      error
}

func (r *run) sleep(d time.Duration) bool {
	select {
	case <-r.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (r *run) mark(label string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks = append(r.marks, mark{At: time.Since(r.start), Label: label})
}

// startWorker starts a worker in the first free slot.
func (r *run) startWorker() {
	r.mu.Lock()
	defer r.mu.Unlock()
	slot := slices.Index(r.slots, nil)
	if slot < 0 {
		slot = len(r.slots)
		r.slots = append(r.slots, nil)
	}
	r.started++
	bin, args := r.workerCommand(slot)
	p, err := startProc(fmt.Sprintf("%s-w%d", r.sc.Name, slot), filepath.Join(r.env.logs, r.sc.Name+".log"), bin, args...)
	if err != nil {
		slog.Error("starting a worker", "err", err)
		return
	}
	r.slots[slot] = p
	r.all = append(r.all, p)
}

func (r *run) workerCommand(slot int) (string, []string) {
	brokers := r.env.kafka.brokers
	switch r.sc.Kind {
	case kindRagpipe:
		args := []string{"embed", "--brokers", brokers, "--group", r.group, "--model", "gpusim", "--log-level", "warn"}
		for _, g := range r.gpus {
			args = append(args, "--embedder", g)
		}
		if r.sc.Static {
			args = append(args, "--instance-id", fmt.Sprintf("w%d", slot))
		}
		return r.env.ragpipe, append(args, r.sc.Args...)
	case kindPC:
		cp := r.env.pcJar + string(os.PathListSeparator) + filepath.Join(filepath.Dir(r.env.pcJar), "lib", "*")
		return "java", []string{"-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp, "ragpipe.bench.Main", brokers, r.group, event.TopicParsed,
			event.TopicEmbedded, r.gpus[0], fmt.Sprint(batchSize), fmt.Sprint(pcConcurrency), fmt.Sprint(pcLoadFactor)}
	default:
		gpu := ""
		if len(r.gpus) > 0 {
			gpu = r.gpus[0]
		}
		return r.env.self, []string{"baseline", "-kind", r.sc.Kind, "-brokers", brokers, "-group", r.group,
			"-gpu", gpu, "-out", r.sc.output(), "-batch", fmt.Sprint(batchSize)}
	}
}

// takeWorker frees slot and returns the worker it held (nil: none).
func (r *run) takeWorker(slot int) *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.slots[slot]
	r.slots[slot] = nil
	return p
}

func (r *run) killWorker(slot int) {
	if p := r.takeWorker(slot); p != nil {
		p.kill()
	}
}

func (r *run) stopWorker(slot int) {
	if p := r.takeWorker(slot); p != nil {
		p.stop(20 * time.Second)
	}
}

// freePort returns a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startGPUs starts the scenario's gpusim processes and waits until they
// answer.
func (r *run) startGPUs() ([]*proc, error) {
	var procs []*proc
	for i := range r.sc.Endpoints {
		port, err := freePort()
		if err != nil {
			return procs, err
		}
		g := r.sc.GPU
		args := []string{"gpusim", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "warn",
			"--base-latency", g.Base.String(), "--per-item", g.PerItem.String(),
			"--max-concurrent", fmt.Sprint(g.MaxConcurrent), "--seed", fmt.Sprint(i + 1)}
		p, err := startProc(fmt.Sprintf("%s-gpusim%d", r.sc.Name, i), filepath.Join(r.env.logs, r.sc.Name+"-gpusim.log"),
			r.env.ragpipe, append(args, g.Faults...)...)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
		url := fmt.Sprintf("http://127.0.0.1:%d/v1", port)
		if err := waitHealthy(r.ctx, fmt.Sprintf("http://127.0.0.1:%d/health", port)); err != nil {
			return procs, err
		}
		r.gpus = append(r.gpus, url)
	}
	return procs, nil
}

func waitHealthy(ctx context.Context, url string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("gpusim at %s did not answer", url)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// runScenario runs one scenario end to end.
func runScenario(ctx context.Context, e *env, sc scenario, seq int) result {
	res := result{sc: sc}
	res.load[0] = loadavg()
	r := &run{env: e, sc: sc, group: fmt.Sprintf("bench-%s-%d-%d", sc.Name, time.Now().Unix(), seq)}
	outTopic := sc.output()
	k := e.kafka
	from := map[string]map[int32]int64{}
	for _, t := range []string{event.TopicParsed, outTopic, event.TopicDLQ, event.TopicFailed, event.TopicIndexed, event.TopicDeleted} {
		o, err := k.ends(ctx, t)
		if err != nil {
			res.err = err
			return res
		}
		from[t] = o
	}
	if err := k.startGroupAt(ctx, r.group, event.TopicParsed, from[event.TopicParsed]); err != nil {
		res.err = err
		return res
	}
	indexGroup := r.group + "-index"
	if sc.Index {
		// The index worker starts at the scenario's records of each of
		// its input topics.
		for _, t := range []string{outTopic, event.TopicFailed, event.TopicDeleted} {
			if err := k.startGroupAt(ctx, indexGroup, t, from[t]); err != nil {
				res.err = err
				return res
			}
		}
	}
	prod, err := newProducer(k.seeds())
	if err != nil {
		res.err = err
		return res
	}
	defer prod.close()
	produced := make(chan error, 1)
	if sc.Corpus.Rate == 0 { // a backlog: all of it before the workers start
		if err := prod.produce(ctx, sc.Corpus); err != nil {
			res.err = err
			return res
		}
		close(produced)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctx = sctx
	gpus, err := r.startGPUs()
	defer func() {
		for _, g := range gpus {
			g.stop(5 * time.Second)
		}
	}()
	if err != nil {
		res.err = err
		return res
	}
	if sc.Index {
		dir, err := os.MkdirTemp("", "ragpipe-bench-store-")
		if err != nil {
			res.err = err
			return res
		}
		defer os.RemoveAll(dir)
		ip, err := r.startIndex(indexGroup, dir)
		if err != nil {
			res.err = err
			return res
		}
		defer ip.stop(30 * time.Second)
	}
	r.start = time.Now()
	for range max(1, sc.Workers) {
		r.startWorker()
	}
	if sc.Corpus.Rate > 0 {
		go func() { produced <- prod.produce(sctx, sc.Corpus); close(produced) }()
	}
	if sc.Script != nil {
		go sc.Script(r)
	}
	timeout := 3*sc.Expected + 30*time.Second
	prodDone := false
	idle := 0
	for {
		if !r.sleep(500 * time.Millisecond) {
			res.err = ctx.Err()
			break
		}
		if !prodDone {
			select {
			case err, ok := <-produced:
				if ok && err != nil {
					res.err = err
				}
				prodDone = true
			default:
			}
		}
		el := time.Since(r.start)
		if sc.Cap > 0 && el >= sc.Cap {
			res.capped = true
			break
		}
		if el > timeout {
			res.timedOut = true
			break
		}
		if !prodDone {
			continue
		}
		lag, err := k.lag(sctx, r.group, event.TopicParsed)
		if err != nil {
			slog.Warn("lag", "err", err)
			continue
		}
		if lag == 0 && sc.Index {
			if lag, err = k.lag(sctx, indexGroup, outTopic); err != nil {
				slog.Warn("lag", "err", err)
				continue
			}
		}
		if lag == 0 {
			if idle++; idle >= 2 {
				break
			}
		} else {
			idle = 0
		}
	}
	res.took = time.Since(r.start)
	cancel()
	r.mu.Lock()
	slots := slices.Clone(r.slots)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range slots {
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(30 * time.Second) }()
		}
	}
	wg.Wait()
	res.load[1] = loadavg()
	if sc.Kind == kindPC {
		res.avgBatch = reportedBatch(filepath.Join(e.logs, sc.Name+".log"))
	}
	res.marks, res.workerRuns = r.marks, r.started
	var cpu float64
	for _, p := range r.all {
		rss, c := p.usage()
		res.peakRSS = max(res.peakRSS, rss)
		cpu += c
	}
	if res.err != nil && ctx.Err() != nil {
		return res
	}
	measure(ctx, k, &res, prod.take(), from, outTopic, r.start, cpu)
	return res
}

// measure reads the scenario's records back and computes its numbers.
func measure(ctx context.Context, k *cluster, res *result, in []inRecord, from map[string]map[int32]int64, outTopic string, start time.Time, cpu float64) {
	out, err := k.outputs(ctx, outTopic, from[outTopic])
	if err != nil {
		res.err = err
		return
	}
	dlq, err := k.outputs(ctx, event.TopicDLQ, from[event.TopicDLQ])
	if err != nil {
		res.err = err
		return
	}
	failed, err := k.failedDocs(ctx, from[event.TopicFailed])
	if err != nil {
		res.err = err
		return
	}
	res.v = check(in, out, dlq, failed)
	inAt := make(map[chunkID]time.Time, len(in))
	for _, r := range in {
		inAt[r.ID] = r.Time
	}
	seen := make(map[chunkID]bool, len(out))
	var stamps []time.Time
	var lats []time.Duration
	for _, o := range out {
		if seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		stamps = append(stamps, o.Time)
		if t, ok := inAt[o.ID]; ok {
			lats = append(lats, o.Time.Sub(t))
		}
	}
	res.rate = steadyRate(stamps) // sorts stamps
	if res.sc.Overall && len(stamps) > 0 {
		res.rate = float64(len(stamps)) / stamps[len(stamps)-1].Sub(start).Seconds()
	}
	res.gap = longestGap(stamps)
	for _, m := range res.marks {
		at := start.Add(m.At)
		var g time.Duration
		prev := at
		for _, t := range stamps {
			if t.Before(at) {
				continue
			}
			if t.After(at.Add(15 * time.Second)) {
				break
			}
			g = max(g, t.Sub(prev))
			prev = t
		}
		res.markGaps = append(res.markGaps, g)
	}
	res.timeline = timeline(stamps, start, time.Second)
	if c := res.sc.GPU.capacity(batchSize); c > 0 && res.sc.Endpoints > 0 {
		res.capShare = res.rate / (c * float64(res.sc.Endpoints))
	}
	res.lat = percentiles(lats) // sorts lats
	step := max(1, len(lats)/2000)
	for i := 0; i < len(lats); i += step {
		res.lats = append(res.lats, lats[i])
	}
	if res.v.Delivered > 0 {
		res.cpuPer1k = cpu / float64(res.v.Delivered) * 1000
	}
	if res.sc.Index {
		ingested := map[string]time.Time{} // a document's first chunk produced
		for _, r := range in {
			if t, ok := ingested[r.ID.Doc]; !ok || r.Time.Before(t) {
				ingested[r.ID.Doc] = r.Time
			}
		}
		var sl []time.Duration
		err := k.readRange(ctx, event.TopicIndexed, from[event.TopicIndexed], func(r *kgo.Record) {
			m, err := event.DecodeDocumentIndexed(r)
			if err != nil || m.GetDeleted() {
				return
			}
			if t, ok := ingested[m.GetTenantId()+"/"+m.GetDocId()]; ok {
				sl = append(sl, r.Timestamp.Sub(t))
			}
		})
		if err != nil {
			res.err = err
			return
		}
		res.indexed = len(sl)
		res.searchable = percentiles(sl)
	}
}

// startIndex starts a `ragpipe index` worker in group on an embedded
// store in dir, for the ingest → searchable latency.
func (r *run) startIndex(group, dir string) (*proc, error) {
	return startProc(r.sc.Name+"-index", filepath.Join(r.env.logs, r.sc.Name+"-index.log"), r.env.ragpipe,
		"index", "--brokers", r.env.kafka.brokers, "--group", group, "--store", dir, "--log-level", "warn")
}

// reportedBatch returns the records per batch the Parallel Consumer
// baseline printed on exit in its log (the last run's), 0 if none.
func reportedBatch(log string) float64 {
	b, err := os.ReadFile(log)
	if err != nil {
		return 0
	}
	var avg float64
	for _, line := range strings.Split(string(b), "\n") {
		var n, m int64
		var a float64
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "pc-baseline: %d batches, %d records, %g records per batch", &n, &m, &a); err == nil {
			avg = a
		}
	}
	return avg
}
