# syntax=docker/dockerfile:1
# Multi-stage: a static binary on a minimal, non-root runtime image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/maildesk ./cmd/maildesk

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/maildesk /usr/local/bin/maildesk
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/maildesk"]
CMD ["run", "--config", "/etc/maildesk/maildesk.yaml"]
