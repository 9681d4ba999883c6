# Protobuf targets for ragpipe's event schemas (proto/ragpipe/v1).
#
# Included from the top-level Makefile; run from the repository root.
# buf and protoc-gen-go are tools of the separate module tools/go.mod, built
# and cached by "go tool": nothing is installed by hand, and the only network
# access is the Go module proxy (on the first run).
#
#   make proto           regenerate proto/**/*.pb.go (commit the result)
#   make proto-lint      buf lint
#   make proto-check     lint + generated code up to date + no breaking
#                        change against the committed baseline
#   make proto-baseline  deliberately refresh the breaking-change baseline
#                        (only when a breaking change is intended, or after
#                        a compatible change has shipped)

GO ?= go

PROTO_DIR      := proto
PROTO_TEMPLATE := $(PROTO_DIR)/buf.gen.yaml
PROTO_BASELINE := $(PROTO_DIR)/baseline/ragpipe-v1.binpb
# GOWORK=off: -modfile cannot be used in workspace mode. GO is exported for
# tools/protoc-gen-go.sh, which buf runs as its local plugin.
BUF            := GOWORK=off GO=$(GO) $(GO) tool -modfile=tools/go.mod buf

.PHONY: proto proto-lint proto-check proto-check-generated proto-breaking proto-baseline

proto:
	$(BUF) generate $(PROTO_DIR) --template $(PROTO_TEMPLATE)

proto-lint:
	$(BUF) lint $(PROTO_DIR)

# Regenerate into a temporary directory and compare with the committed
# files, so that a stale *.pb.go fails the check without touching the tree.
proto-check-generated:
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BUF) generate $(PROTO_DIR) --template $(PROTO_TEMPLATE) -o "$$tmp"; \
	(cd "$$tmp/$(PROTO_DIR)" && find . -name '*.pb.go' | LC_ALL=C sort) >"$$tmp/want"; \
	(cd $(PROTO_DIR) && find . -name '*.pb.go' | LC_ALL=C sort) >"$$tmp/have"; \
	if ! diff -u "$$tmp/have" "$$tmp/want" >"$$tmp/list.diff"; then \
		echo "proto-check: generated files differ from $(PROTO_DIR)/ (- committed, + expected); run 'make proto':"; \
		cat "$$tmp/list.diff"; exit 1; \
	fi; \
	status=0; \
	while read -r f; do \
		diff -u "$(PROTO_DIR)/$$f" "$$tmp/$(PROTO_DIR)/$$f" || status=1; \
	done <"$$tmp/want"; \
	if [ $$status -ne 0 ]; then echo "proto-check: generated code is out of date; run 'make proto'"; exit 1; fi; \
	echo "proto-check: generated code is up to date"

proto-breaking:
	$(BUF) breaking $(PROTO_DIR) --against $(PROTO_BASELINE)

proto-check: proto-lint proto-check-generated proto-breaking

proto-baseline:
	$(BUF) build $(PROTO_DIR) --exclude-source-info -o $(PROTO_BASELINE)
