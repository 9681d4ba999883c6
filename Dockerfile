# ragpipe: one static binary; run any subcommand (embed, index, ingest, ...).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ragpipe ./cmd/ragpipe

# Static (CGO_ENABLED=0), on distroless, as the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ragpipe /usr/local/bin/ragpipe
USER nonroot:nonroot
# Workers (embed, index, demo) serve /metrics, /healthz and /readyz here.
ENV RAGPIPE_DATA=/data RAGPIPE_METRICS_ADDR=:9090
EXPOSE 9090
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/ragpipe"]
CMD ["--help"]
