# go-jwt: JWT authentication service (Gin + endless + Redis).
# Build with ./build.sh (adds version labels and prunes this project's builder
# images), or plainly: docker build -t go-jwt .

# ---------------------------------------------------------------- builder ---
FROM golang:1.26-bookworm AS builder

# build.sh prunes dangling images carrying this label, and only those, so a
# rebuild does not leave stale builder layers behind and never touches images
# of other projects.
LABEL go-jwt.stage=builder

ARG VERSION=dev

WORKDIR /src

# Dependencies first, in their own layer: editing Go source then reuses the
# module cache layer instead of downloading every module again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# CGO_ENABLED=0: a static binary, so it runs on distroless/static (no libc).
# -trimpath: no builder paths in the binary (reproducible, leaks nothing).
# -s -w: no symbol table or DWARF, a smaller image.
# -X main.version: `go-jwt version` and the logs say what is running.
RUN CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/go-jwt .

# ---------------------------------------------------------------- runtime ---
# distroless/static: no shell, no package manager, nothing to exploit but our
# binary and CA certificates (for TLS to Redis). :nonroot runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
LABEL org.opencontainers.image.title="go-jwt" \
      org.opencontainers.image.description="JWT authentication service: login, refresh rotation, revocation in Redis" \
      org.opencontainers.image.version="${VERSION}"

# Owned by root, read-only for the service user: a compromised process cannot
# replace its own binary.
COPY --from=builder /out/go-jwt /go-jwt

# release mode: JWT_SECRET is mandatory (no random per-process key) and the
# demo user/page are off. 9090 is above 1024, so no capability is needed.
ENV GIN_MODE=release \
    APP_ADDR=:9090

EXPOSE 9090

USER nonroot:nonroot

# No shell or curl in distroless: the binary checks itself (`healthcheck`
# GETs /healthz on 127.0.0.1 at the APP_ADDR port and exits 0 or 1).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/go-jwt", "healthcheck"]

# Exec form, no shell wrapper: the binary is PID 1 and acts as its own small
# init (SPEC §7), so `docker kill -s HUP` does an endless restart without
# ending the container. Do not add `--init`/tini in front of it.
ENTRYPOINT ["/go-jwt"]
