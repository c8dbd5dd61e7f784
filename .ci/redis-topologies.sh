#!/usr/bin/env bash
# The storage and HTTP test suites (./utils/... ./routers/) against a real
# 3-master Redis Cluster on loopback: every Lua script, transaction, MGET and
# pipeline must work where keys live on different nodes (docs/SCALING.md).
# It starts the nodes in a temp dir, exports REDIS_TEST_CLUSTER, runs the
# tests (extra arguments go to go test, e.g. -race) and stops the nodes.
# It installs nothing: .ci/run installs redis-server (redis-tools brings
# redis-cli with it).
set -euo pipefail
cd "$(dirname "$0")/.."

for exe in redis-server redis-cli; do
  command -v "$exe" >/dev/null || { echo "$exe not found: install redis-server (Debian package)" >&2; exit 1; }
done

dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# free reports whether nobody answers on a loopback port.
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Three ports, each with its cluster bus port (+10000) free too, both below
# the kernel's ephemeral range: a port there can be the local end of one of
# the tests' own connections, which nobody answers on and yet cannot be
# bound (a CI run failed so: "bind: Address already in use" on a bus port).
ephemeral=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
ports=()
for p in $(shuf -i 10000-$((ephemeral - 10001)) -n 200); do
  if ! free "$p" || ! free $((p + 10000)); then continue; fi
  case " ${ports[*]} " in *" $p "*) continue ;; esac
  ports+=("$p")
  [ ${#ports[@]} -eq 3 ] && break
done
[ ${#ports[@]} -eq 3 ] || { echo "no free ports found" >&2; exit 1; }

nodes=()
for p in "${ports[@]}"; do
  mkdir -p "$dir/$p"
  redis-server --port "$p" --bind 127.0.0.1 --dir "$dir/$p" \
    --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 5000 \
    --save '' --appendonly no --daemonize no --loglevel warning >"$dir/$p/redis.log" 2>&1 &
  pids+=($!)
  nodes+=("127.0.0.1:$p")
done
for p in "${ports[@]}"; do
  for _ in $(seq 50); do
    redis-cli -p "$p" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$p" ping | grep -q PONG || { cat "$dir/$p/redis.log"; exit 1; }
done

redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
  { cat "$dir/create.log"; exit 1; }

# Every node must see the whole cluster before the tests start.
for p in "${ports[@]}"; do
  ok=""
  for _ in $(seq 100); do
    if redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok'; then ok=1; break; fi
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "node $p: cluster_state is not ok" >&2; redis-cli -p "$p" cluster info >&2; exit 1; }
done
echo "redis-server $(redis-server --version | awk '{print $3}'): 3-master cluster on ${nodes[*]}"
for p in "${ports[@]}"; do
  echo "  127.0.0.1:$p holds slots $(redis-cli -p "$p" cluster nodes | awk '/myself/ {print $9}')"
done

export REDIS_TEST_CLUSTER
REDIS_TEST_CLUSTER=$(IFS=,; echo "${nodes[*]}")
echo "== go test${*:+ $*} ./utils/... ./routers/ with REDIS_TEST_CLUSTER=$REDIS_TEST_CLUSTER"
go test -count=1 "$@" ./utils/... ./routers/
echo "== cluster suite passed; stopping the nodes"
