#!/usr/bin/env bash
# start.sh: run go-jwt beside a Redis container on a private Docker network.
#
#   ./start.sh [start]   (re)start Redis and the service (build the image first: ./build.sh)
#   ./start.sh stop      remove both containers (the Redis volume and the network stay)
#   ./start.sh logs      follow the service's logs
#
# Secrets: JWT_SECRET, DATA_KEY (encrypts TOTP secrets at rest) and
# REDIS_PASSWORD come from the environment, else from .jwt_secret /
# .data_key / .redis_password next to this script, else they are generated
# once (openssl rand -hex 32) and stored there with mode 0600, so tokens, the
# second factors and the Redis data survive a restart.
#
# Settings (environment): IMAGE, TAG, NETWORK, APP_CONTAINER, REDIS_CONTAINER,
# REDIS_VOLUME, PUBLISH (host side of the port, default 127.0.0.1:9090), and,
# passed to the service when set: ACCESS_TTL, REFRESH_TTL, SESSION_MAX_AGE,
# CORS_ORIGINS, TRUSTED_PROXIES, REGISTRATION, ADMIN_MFA.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

image="${IMAGE:-go-jwt}:${TAG:-latest}"
network="${NETWORK:-go-jwt-net}"
app="${APP_CONTAINER:-go-jwt}"
redis="${REDIS_CONTAINER:-go-jwt-redis}"
volume="${REDIS_VOLUME:-go-jwt-redis-data}"
publish="${PUBLISH:-127.0.0.1:9090}"
passthrough=(ACCESS_TTL REFRESH_TTL SESSION_MAX_AGE CORS_ORIGINS TRUSTED_PROXIES REGISTRATION ADMIN_MFA)

log() { printf '==> %s\n' "$*"; }
die() { printf 'start.sh: %s\n' "$*" >&2; exit 1; }

# secret NAME FILE: print $NAME if set, else FILE's content, else a new random
# value stored in FILE (0600: umask 077 in the subshell, so the file is never
# readable by others, not even for a moment).
secret() {
    local name="$1" file="$script_dir/$2"
    if [[ -n "${!name:-}" ]]; then
        printf '%s' "${!name}"
    elif [[ -s "$file" ]]; then
        tr -d '\n' <"$file"
    else
        (
            umask 077
            if command -v openssl >/dev/null 2>&1; then
                openssl rand -hex 32 | tr -d '\n' >"$file"
            else
                od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$file"
            fi
        )
        log "generated $2 (mode 0600); keep it: tokens and Redis depend on it" >&2
        cat "$file"
    fi
}

# rm_container NAME: docker rm -f, quiet when the container does not exist,
# so a re-run replaces the old containers cleanly.
rm_container() {
    docker rm -f "$1" >/dev/null 2>&1 || true
}

start() {
    docker image inspect "$image" >/dev/null 2>&1 ||
        die "image $image not found: run ./build.sh first"

    if ! docker network inspect "$network" >/dev/null 2>&1; then
        log "creating network $network"
        docker network create --driver bridge "$network" >/dev/null
    fi

    JWT_SECRET="$(secret JWT_SECRET .jwt_secret)"
    DATA_KEY="$(secret DATA_KEY .data_key)"
    REDIS_PASSWORD="$(secret REDIS_PASSWORD .redis_password)"
    ((${#JWT_SECRET} >= 32)) || die "JWT_SECRET must be at least 32 bytes"
    ((${#DATA_KEY} >= 32)) || die "DATA_KEY must be at least 32 bytes"
    # Secrets reach docker as `-e NAME` (no value): docker reads the value
    # from its own environment. With `-e NAME=value` or `--requirepass value`
    # they would sit in docker's argv, readable by every user through `ps`
    # or /proc. redis-cli reads REDISCLI_AUTH, so `-a value` is not needed.
    REDISCLI_AUTH="$REDIS_PASSWORD"
    export JWT_SECRET DATA_KEY REDIS_PASSWORD REDISCLI_AUTH

    rm_container "$app"
    rm_container "$redis"

    log "starting Redis ($redis)"
    # The password is expanded inside the container (single quotes here), so
    # it is not on docker's command line. `exec docker-entrypoint.sh` keeps
    # the image's entrypoint work: chown /data and drop root to the redis user.
    # Redis then replaces its process title, hiding the argument again.
    # The port is not published: only containers on $network reach Redis.
    # shellcheck disable=SC2016 # $REDISCLI_AUTH is for the container's sh
    docker run -d \
        --name "$redis" \
        --network "$network" \
        --restart unless-stopped \
        -e REDISCLI_AUTH \
        -v "$script_dir/redis.conf:/usr/local/etc/redis/redis.conf:ro" \
        -v "$volume:/data" \
        redis:7-alpine \
        sh -c 'exec docker-entrypoint.sh redis-server /usr/local/etc/redis/redis.conf --requirepass "$REDISCLI_AUTH"' \
        >/dev/null

    local tries=30 i
    for ((i = 1; i <= tries; i++)); do
        if [[ "$(docker exec -e REDISCLI_AUTH "$redis" redis-cli ping 2>/dev/null)" == PONG ]]; then
            break
        fi
        if ((i == tries)); then
            docker logs --tail 20 "$redis" >&2 || true
            die "Redis ($redis) did not answer PING after $tries tries"
        fi
        sleep 1
    done
    log "Redis is up"

    local opt=() name
    for name in "${passthrough[@]}"; do
        if [[ -n "${!name:-}" ]]; then
            export "${name?}"
            opt+=(-e "$name")
        fi
    done

    log "starting go-jwt ($app, image $image)"
    docker run -d \
        --name "$app" \
        --network "$network" \
        --restart unless-stopped \
        --stop-timeout 35 \
        -p "$publish:9090" \
        -e "REDIS_ADDR=$redis:6379" \
        -e REDIS_PASSWORD \
        -e JWT_SECRET \
        -e DATA_KEY \
        -e GIN_MODE=release \
        ${opt[@]+"${opt[@]}"} \
        "$image" \
        >/dev/null

    local host="$publish"
    [[ "$host" == *:* ]] || host="localhost:$host"
    host="${host/#0.0.0.0:/localhost:}"
    log "go-jwt is running: http://$host/public/ping  (logs: ./start.sh logs)"
}

stop() {
    rm_container "$app"
    rm_container "$redis"
    log "removed $app and $redis (volume $volume and network $network kept)"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
logs) exec docker logs -f "$app" ;;
*)
    printf 'usage: %s [start|stop|logs]\n' "$0" >&2
    exit 2
    ;;
esac
