# Build: make docker-build (needs a Docker engine). The same target is built with plain
# `go build` by `make build`, which CI runs.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# VERSION is what --version and the startup log line print (make docker-build passes the image tag).
ARG VERSION=devel
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY api/ api/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o manager ./cmd

# The HAProxy agent (make docker-build-agent): haproxy 2.6, which validates a configuration
# with haproxy -c before a reload, and this binary's haproxy-agent subcommand.
FROM haproxy:2.6 AS haproxy-agent
COPY --from=builder /workspace/manager /usr/local/bin/inference-exposure-operator
ENTRYPOINT ["/usr/local/bin/inference-exposure-operator", "haproxy-agent"]

# The operator (the default target).
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532
ENTRYPOINT ["/manager"]
