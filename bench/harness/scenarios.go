package main

import (
	"fmt"
	"time"

	"github.com/ragpipe/ragpipe/event"
)

// gpuModel is the capacity model and faults of one gpusim process: a batch
// of n inputs holds one of MaxConcurrent slots for Base + n×PerItem.
type gpuModel struct {
	Base, PerItem time.Duration
	MaxConcurrent int
	Faults        []string // extra gpusim flags
}

// capacity is the inputs per second of one endpoint for full batches of n.
func (g gpuModel) capacity(n int) float64 {
	per := g.Base + time.Duration(n)*g.PerItem
	if per <= 0 {
		return 0 // not modelled: unbounded
	}
	return float64(g.MaxConcurrent*n) / per.Seconds()
}

func (g gpuModel) String() string {
	return fmt.Sprintf("%v + n×%v, %d slots", g.Base, g.PerItem, g.MaxConcurrent)
}

// The capacity models the scenarios use.
var (
	// gpuBound: 2 slots of 50 ms + 1 ms per input: 1,123 inputs/s with
	// batches of 64, far below what one worker moves.
	gpuBound = gpuModel{Base: 50 * time.Millisecond, PerItem: time.Millisecond, MaxConcurrent: 2}
	// gpuFree: no latency, 64 slots: the embedder costs only its HTTP and
	// JSON work.
	gpuFree = gpuModel{MaxConcurrent: 64}
	// gpuSlow: 5 s per batch, 4 slots: 51 inputs/s with batches of 64.
	gpuSlow = gpuModel{Base: 5 * time.Second, MaxConcurrent: 4}
)

// consumer kinds.
const (
	kindRagpipe = "ragpipe"
	kindNaive   = "naive"
	kindPartSeq = "partition-sequential"
	kindPipe    = "pipe"
	kindPC      = "parallel-consumer"
)

// pcConcurrency is Parallel Consumer's maxConcurrency: twice ragpipe's
// default batches in flight, so that it is never short of requests in
// flight (its threads block on the HTTP call).
const pcConcurrency = 16

// pcLoadFactor is Parallel Consumer's initial load factor: how many
// records it loads ahead per unit of concurrency × batch size.
const pcLoadFactor = 20

// batchSize is the embedding batch of ragpipe (its default) and of the
// batching baseline.
const batchSize = 64

// scenario is one measured run.
type scenario struct {
	Name  string
	Title string
	Kind  string // consumer kind
	GPU   gpuModel
	// Endpoints is the number of gpusim processes (0: none, for the pipe).
	Endpoints int
	Corpus    corpusSpec
	Workers   int      // workers at the start
	Args      []string // extra worker flags
	// Script runs during the scenario (kills, scaling); nil: nothing.
	Script func(r *run)
	// Cap stops the run after this long even if work is left (the slow
	// baselines): lost chunks are then not counted.
	Cap time.Duration
	// Expected is a rough duration, for the timeout (3×) and the corpus.
	Expected time.Duration
	// DLQExpected: a poisoned or toxic input, so DLQ records are right.
	DLQExpected bool
	// Compare groups ragpipe with the baselines run on the same load.
	Compare string
	// Static gives every worker a --instance-id (static membership).
	Static bool
	// Overall measures the rate from the workers' start to the last output
	// instead of the 10th–90th percentile window (output in waves).
	Overall bool
	// Index also runs a `ragpipe index` worker (embedded store) behind the
	// embed workers, for the ingest → searchable latency.
	Index bool
}

// output is the topic the scenario's consumers write to: the bare pipe's
// own, else chunks.embedded.
func (s scenario) output() string {
	if s.Kind == kindPipe {
		return pipeTopic
	}
	return event.TopicEmbedded
}

// scale shrinks a full-run quantity for -quick.
type scale struct{ quick bool }

func (s scale) d(full, quick time.Duration) time.Duration {
	if s.quick {
		return quick
	}
	return full
}

// chunksFor is how many chunks keep a consumer busy for d at rate/s.
func chunksFor(d time.Duration, rate float64) int { return int(d.Seconds() * rate) }

// docs sizes a corpus of about n chunks with min..max chunks a document.
func docs(n, minC, maxC int) corpusSpec {
	avg := float64(minC+maxC) / 2
	return corpusSpec{Docs: max(1, int(float64(n)/avg+0.5)), MinChunks: minC, MaxChunks: maxC, Seed: 1}
}

// engineRate is the rate the engine-bound corpora are sized for.
const engineRate = 8000

// scenarios returns every scenario in run order.
func scenarios(sc scale) []scenario {
	gcap := gpuBound.capacity(batchSize)
	// The full run's durations keep `make bench` within about 10 minutes
	// on 2 cores: 15 s of steady state per scenario (the rate is taken
	// between the 10th and 90th percentile of the output, 12 s of it),
	// the 30 s outage, kills every 10 s and 1 → 3 → 1 workers
	// over 30 s. -quick keeps every scenario, at a scale where each one
	// takes a few seconds: a smoke run, not a measurement.
	base := sc.d(15*time.Second, 2*time.Second)
	gpuCorpus := docs(chunksFor(base, gcap), 1, 40)
	engCorpus := docs(chunksFor(base, engineRate), 1, 40)
	outageAt, outageEnd := sc.d(5*time.Second, time.Second), sc.d(35*time.Second, 3*time.Second)
	killEvery := sc.d(10*time.Second, 2*time.Second)
	killDur := sc.d(30*time.Second, 4*time.Second)
	scaleDur := sc.d(30*time.Second, 4*time.Second)
	scaleTail := sc.d(5*time.Second, time.Second/2)
	slow := gpuSlow
	if sc.quick {
		slow.Base = time.Second
	}
	slowDur := sc.d(20*time.Second, 2*time.Second)
	pcCap := sc.d(2*base+5*time.Second, base+5*time.Second)
	var out []scenario
	out = append(out,
		scenario{Name: "gpu-bound", Title: "GPU-bound steady state", Kind: kindRagpipe, GPU: gpuBound, Endpoints: 1,
			Corpus: gpuCorpus, Workers: 1, Expected: base, Compare: "gpu"},
		scenario{Name: "latency", Title: "Latency at 60% of GPU capacity (paced input), with an index worker", Kind: kindRagpipe, GPU: gpuBound, Endpoints: 1,
			Corpus: withRate(docs(chunksFor(base, 0.6*gcap), 1, 40), 0.6*gcap), Workers: 1, Expected: base, Index: true},
		scenario{Name: "engine-bound", Title: "Engine-bound (negligible GPU latency)", Kind: kindRagpipe, GPU: gpuFree, Endpoints: 1,
			Corpus: engCorpus, Workers: 1, Expected: base, Compare: "engine"},
		// The bare pipe runs right after the engine-bound run (and the
		// embedder alone right after it, main.go) so that the ceiling
		// they combine into sees the same machine load.
		scenario{Name: "pipe", Title: "Baseline: bare consume → produce pipe (the ceiling)", Kind: kindPipe,
			Corpus: engCorpus, Workers: 1, Cap: 2 * base, Expected: base / 2, Compare: "engine"},
		scenario{Name: "backlog-1m", Title: fmt.Sprintf("A %d-record backlog: the memory bound (worker stopped after %v)", backlogRecords(sc), backlogCap(sc)),
			Kind: kindRagpipe, GPU: gpuFree, Endpoints: 1, Corpus: docs(backlogRecords(sc), 1, 40), Workers: 1,
			Cap: backlogCap(sc), Expected: backlogCap(sc)},
		scenario{Name: "long-docs", Title: "Long documents (200–300 chunks)", Kind: kindRagpipe, GPU: gpuBound, Endpoints: 1,
			Corpus: docs(chunksFor(base, gcap), 200, 300), Workers: 1, Expected: base},
		scenario{Name: "outage", Title: fmt.Sprintf("GPU outage from %v to %v (connections refused)", outageAt, outageEnd), Kind: kindRagpipe,
			GPU:       withFaults(gpuBound, "--outage", fmt.Sprintf("%v-%v", outageAt, outageEnd)),
			Endpoints: 1, Corpus: docs(chunksFor(outageAt+base, gcap), 1, 40), Workers: 1, Expected: outageEnd + base},
		scenario{Name: "mixed-faults", Title: "Mixed faults: 1% hangs, 5% 500s, 3% 429s, 1% drops", Kind: kindRagpipe,
			GPU: withFaults(gpuBound, "--hang-rate", "0.01", "--error-rate", "500=0.05", "--error-rate", "429=0.03",
				"--drop-rate", "0.01", "--retry-after", "1s"),
			Endpoints: 1, Corpus: gpuCorpus, Workers: 1, Expected: base},
		scenario{Name: "toxic", Title: "Toxic inputs (3 chunks gpusim always fails with 500)", Kind: kindRagpipe,
			GPU: withFaults(gpuBound, "--toxic-marker", toxicMarker), Endpoints: 1,
			Corpus: withToxic(gpuCorpus, 3), Workers: 1, Expected: base, DLQExpected: true},
		scenario{Name: "slow-gpu", Title: fmt.Sprintf("Slow GPU (%v batches, %d slots)", slow.Base, slow.MaxConcurrent), Kind: kindRagpipe, GPU: slow, Endpoints: 1,
			Corpus: docs(chunksFor(slowDur, slow.capacity(batchSize)), 1, 40), Workers: 1,
			Expected: slowDur, Overall: true},
		scenario{Name: "hot-partition", Title: "Hot partition (10× the records) and a hot tenant (30% of documents)", Kind: kindRagpipe,
			GPU: gpuBound, Endpoints: 1, Corpus: withHot(gpuCorpus, 10, 0.3), Workers: 1, Expected: base, Compare: "hot"},
		scenario{Name: "kill", Title: fmt.Sprintf("Worker SIGKILLed every %v (dynamic membership)", killEvery), Kind: kindRagpipe,
			GPU: gpuBound, Endpoints: 1, Corpus: docs(chunksFor(killDur, gcap), 1, 40), Workers: 1,
			Args: []string{"--session-timeout", "6s"}, Script: killing(killEvery), Expected: killDur},
		scenario{Name: "kill-static", Title: fmt.Sprintf("Worker SIGKILLed every %v (--instance-id)", killEvery), Kind: kindRagpipe,
			GPU: gpuBound, Endpoints: 1, Corpus: docs(chunksFor(killDur, gcap), 1, 40), Workers: 1,
			Args: []string{"--session-timeout", "6s"}, Script: killing(killEvery), Expected: killDur, Static: true},
		scenario{Name: "scale", Title: "1 → 3 → 1 workers (4 GPU endpoints)", Kind: kindRagpipe,
			GPU: gpuBound, Endpoints: 4, Corpus: docs(chunksFor(scaleDur+scaleTail, 4*gcap), 1, 40), Workers: 1,
			Script: scaling(scaleDur/3, 2*scaleDur/3), Expected: scaleDur},
		scenario{Name: "scale-848", Title: "1 → 3 → 1 workers (4 GPU endpoints), --group-protocol consumer (KIP-848)", Kind: kindRagpipe,
			GPU: gpuBound, Endpoints: 4, Corpus: docs(chunksFor(scaleDur+scaleTail, 4*gcap), 1, 40), Workers: 1,
			Args: []string{"--group-protocol", "consumer"}, Script: scaling(scaleDur/3, 2*scaleDur/3), Expected: scaleDur},
	)
	for _, n := range []int{1, 2, 4} {
		out = append(out, scenario{Name: fmt.Sprintf("endpoints-%d", n), Title: fmt.Sprintf("%d gpusim endpoint(s) behind one worker", n),
			Kind: kindRagpipe, GPU: gpuBound, Endpoints: n, Corpus: docs(chunksFor(base, float64(n)*gcap), 1, 40),
			Workers: 1, Args: []string{"--concurrency", fmt.Sprint(4 * n * gpuBound.MaxConcurrent)}, Expected: base})
	}
	naiveCap := base
	out = append(out,
		scenario{Name: "naive-gpu", Title: "Baseline: naive consumer, GPU-bound", Kind: kindNaive, GPU: gpuBound, Endpoints: 1,
			Corpus: gpuCorpus, Workers: 1, Cap: naiveCap, Expected: naiveCap, Compare: "gpu"},
		scenario{Name: "partseq-gpu", Title: "Baseline: partition-sequential batching, GPU-bound", Kind: kindPartSeq, GPU: gpuBound, Endpoints: 1,
			Corpus: gpuCorpus, Workers: 1, Cap: 2 * base, Expected: base, Compare: "gpu"},
		scenario{Name: "partseq-hot", Title: "Baseline: partition-sequential batching, hot partition", Kind: kindPartSeq, GPU: gpuBound, Endpoints: 1,
			Corpus: withHot(gpuCorpus, 10, 0.3), Workers: 1, Cap: 2 * base, Expected: base, Compare: "hot"},
		scenario{Name: "naive-engine", Title: "Baseline: naive consumer, engine-bound", Kind: kindNaive, GPU: gpuFree, Endpoints: 1,
			Corpus: engCorpus, Workers: 1, Cap: naiveCap, Expected: naiveCap, Compare: "engine"},
		scenario{Name: "partseq-engine", Title: "Baseline: partition-sequential batching, engine-bound", Kind: kindPartSeq, GPU: gpuFree, Endpoints: 1,
			Corpus: engCorpus, Workers: 1, Cap: 2 * base, Expected: base, Compare: "engine"},
		scenario{Name: "pc-gpu", Title: "Baseline: Confluent Parallel Consumer (KEY ordering), GPU-bound", Kind: kindPC, GPU: gpuBound, Endpoints: 1,
			Corpus: gpuCorpus, Workers: 1, Cap: pcCap, Expected: base, Compare: "gpu"},
		scenario{Name: "pc-engine", Title: "Baseline: Confluent Parallel Consumer (KEY ordering), engine-bound", Kind: kindPC, GPU: gpuFree, Endpoints: 1,
			Corpus: engCorpus, Workers: 1, Cap: pcCap, Expected: base, Compare: "engine"},
	)
	return out
}

func withRate(c corpusSpec, r float64) corpusSpec { c.Rate = r; return c }
func withToxic(c corpusSpec, n int) corpusSpec    { c.Toxic = n; return c }
func withHot(c corpusSpec, part, tenant float64) corpusSpec {
	c.HotPartition, c.HotTenant = part, tenant
	return c
}
func withFaults(g gpuModel, flags ...string) gpuModel {
	g.Faults = append(append([]string(nil), g.Faults...), flags...)
	return g
}

// killing SIGKILLs worker 0 every period and starts a new one at once,
// until the scenario's expected duration has passed (then the worker is
// left to finish, so that lost chunks can be counted).
func killing(period time.Duration) func(*run) {
	return func(r *run) {
		for time.Since(r.start)+period <= r.sc.Expected && r.sleep(period) {
			r.mark("SIGKILL")
			r.killWorker(0)
			r.startWorker()
		}
	}
}

// scaling adds two workers at up and stops them (SIGTERM) at down.
func scaling(up, down time.Duration) func(*run) {
	return func(r *run) {
		if !r.sleep(up) {
			return
		}
		r.mark("+2 workers")
		r.startWorker()
		r.startWorker()
		if !r.sleep(down - up) {
			return
		}
		r.mark("−2 workers")
		r.stopWorker(2)
		r.stopWorker(1)
	}
}

// backlogRecords is the backlog of the memory-bound scenario: the issue's
// 1,000,000 records (50,000 with -quick).
func backlogRecords(sc scale) int {
	if sc.quick {
		return 50_000
	}
	return 1_000_000
}

// backlogCap is how long the worker works through that backlog: long
// enough for its memory to reach its steady state, not to drain it.
func backlogCap(sc scale) time.Duration { return sc.d(15*time.Second, 2*time.Second) }
