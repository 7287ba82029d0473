# syntax=docker/dockerfile:1
#
# maildesk: a static binary on a minimal, non-root runtime image.
#
#   docker build -t maildesk:dev .
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t maildesk:$(git describe --tags --always) .
#
# The image runs `maildesk run --config /etc/maildesk/maildesk.yaml` as user
# 65532 (distroless "nonroot") and writes nothing, so it runs with a
# read-only root file system. Mount the config (and its contacts file) at
# /etc/maildesk and the secrets where the config's password_file and
# token_file say; deploy/compose.yaml and deploy/kubernetes/ show how.

ARG GO_VERSION=1.26

# The build runs on the build machine's platform and cross-compiles (no
# emulation for multi-platform builds: docker buildx build --platform
# linux/amd64,linux/arm64).
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# VERSION is what `maildesk version` prints and the daemon logs at start.
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/maildesk ./cmd/maildesk

# Static: CA certificates and /etc/passwd, no shell, no package manager. The
# time zones are compiled into the binary (time/tzdata).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="maildesk" \
      org.opencontainers.image.description="E-mail to a servicedesk address becomes tickets: IMAP in, Redis state, SMTP out" \
      org.opencontainers.image.source="https://github.com/maildesk/maildesk" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/maildesk /usr/local/bin/maildesk
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# /healthz, /readyz, /metrics, the agent API and the dashboard. A listen
# address other than 127.0.0.1 needs http.tokens in the config.
EXPOSE 8080
# No shell in the image: the check is the binary itself. It asks
# $MAILDESK_HTTP_LISTEN, else 127.0.0.1:8080; set that variable when the
# config listens elsewhere (the daemon follows it too).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/maildesk", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/maildesk"]
CMD ["run", "--config", "/etc/maildesk/maildesk.yaml"]
