#!/usr/bin/env bash
# Delegation figures (dev.reins.bench.DelegationLatency) against a fresh local server (H2) and the
# A2A test peer on the official JS SDK (http-api/src/test/a2a-peer, installed here with npm ci).
# Prints the result; docs/benchmarks.md quotes it by hand with the command, machine and date.
#
#   bench/delegations.sh [extra DelegationLatency options, e.g. --iterations 500]
#
# Knobs: BENCH_HTTP_PORT [18080] BENCH_REMOTE_PORT [25620] BENCH_PEER_PORT [18099]
#        BENCH_SKIP_BUILD [0] (1: use what is built)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HTTP_PORT="${BENCH_HTTP_PORT:-18080}"
REMOTE_PORT="${BENCH_REMOTE_PORT:-25620}"
PEER_PORT="${BENCH_PEER_PORT:-18099}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$ROOT/bench/target/results/$STAMP-delegations"
mkdir -p "$RESULTS"
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building: ./mvnw -o -q -B -DskipTests package -pl deploy,bench -am"
  ./mvnw -o -q -B -DskipTests package -pl deploy,bench -am
fi
PEER_DIR="$ROOT/bench/target/a2a-peer"
mkdir -p "$PEER_DIR"
cp http-api/src/test/a2a-peer/package.json http-api/src/test/a2a-peer/package-lock.json http-api/src/test/a2a-peer/peer.mjs "$PEER_DIR/"
(cd "$PEER_DIR" && { cmp -s package-lock.json node_modules/.reins-installed-lock ||
  { npm ci --no-audit --no-fund --prefer-offline --loglevel=error && cp package-lock.json node_modules/.reins-installed-lock; }; })

DATA_DIR="$(mktemp -d /tmp/reins-bench-deleg.XXXXXX)"
TOKEN="bench-admin-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SERVER_SID=""
PEER_PID=""
cleanup() {
  [ -n "$SERVER_SID" ] && kill -TERM -- "-$SERVER_SID" 2>/dev/null && wait "$SERVER_SID" 2>/dev/null || true
  [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null || true
  rm -rf -- "$DATA_DIR"
}
trap cleanup EXIT

(cd "$PEER_DIR" && exec node peer.mjs --port "$PEER_PORT") >"$RESULTS/peer.log" 2>&1 &
PEER_PID=$!
REINS_DATA_DIR="$DATA_DIR" REINS_HTTP_PORT="$HTTP_PORT" REINS_REMOTE_PORT="$REMOTE_PORT" REINS_ADMIN_TOKEN="$TOKEN" \
  setsid java -cp "deploy/target/classes:$(cat deploy/target/classpath.txt)" dev.reins.deploy.Main serve \
  >"$RESULTS/server.log" 2>&1 </dev/null &
SERVER_SID=$!
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$HTTP_PORT/v1/health/ready" 2>/dev/null && break
  kill -0 "$SERVER_SID" 2>/dev/null || { tail -n 40 "$RESULTS/server.log" >&2; exit 1; }
  sleep 0.5
done
log "server ready; load average $(cut -d ' ' -f 1-3 /proc/loadavg); machine: $(nproc) CPUs, $(uname -sr), $(java -version 2>&1 | head -n 1), node $(node --version)"
java -Xms256m -Xmx512m -cp "bench/target/classes:$(cat bench/target/classpath.txt)" dev.reins.bench.DelegationLatency \
  --url "http://127.0.0.1:$HTTP_PORT" --token "$TOKEN" --peer "http://127.0.0.1:$PEER_PORT" "$@" | tee "$RESULTS/delegations.txt"
log "load average after: $(cut -d ' ' -f 1-3 /proc/loadavg)"
