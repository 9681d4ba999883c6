#!/bin/sh
# Runs protoc-gen-go pinned by tools/go.mod, for buf generate (see
# proto/buf.gen.yaml). $GO selects the go command, as in mk/proto.mk.
# -C makes this independent of the working directory; the plugin only talks
# over stdin and stdout.
set -eu
GOWORK=off exec "${GO:-go}" -C "$(dirname "$0")" tool protoc-gen-go "$@"
