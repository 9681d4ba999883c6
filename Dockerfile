# ragpipe: one static binary; run any subcommand (embed, index, ingest, ...).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ragpipe ./cmd/ragpipe

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ragpipe /usr/local/bin/ragpipe
ENV RAGPIPE_DATA=/data
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/ragpipe"]
CMD ["--help"]
