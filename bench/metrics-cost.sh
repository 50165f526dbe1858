#!/usr/bin/env bash
# The cost of the metrics on the submit path: one server on embedded H2, measured twice, with
# REINS_METRICS_ENABLED=true and =false, alternating (on, off, on, off) so that drift of a shared
# machine lands on both. Per round: GET /v1/health/live (reference) and POST /v1/runs (sleep 3600),
# each a 5 s warm-up thrown away and a 10 s measured wrk run (2 threads, 32 connections).
# Needs wrk and jq and a built distribution (./mvnw -B -o -q -DskipTests package).
# Usage: bench/metrics-cost.sh [rounds per setting, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
DIST=deploy/target/reins/bin/reins
[ -x "$DIST" ] || { echo "build first: ./mvnw -B -o -q -DskipTests package" >&2; exit 2; }
PORT=${BENCH_PORT:-18480}
REMOTE=${BENCH_REMOTE_PORT:-25980}
TAG="metrics-cost-$$"
BODY='{"executor":{"type":"process","command":["sleep","3600"],"env":{"REINS_BENCH_TAG":"'"$TAG"'"}}}'
OUT=$(mktemp -d)

one() { # setting round
  local data="$OUT/data-$1-$2" admin
  admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  REINS_DATA_DIR="$data" REINS_HTTP_PORT=$PORT REINS_REMOTE_PORT=$REMOTE REINS_ADMIN_TOKEN="$admin" \
    REINS_METRICS_ENABLED=$1 REINS_TENANT_SUBMITS_PER_SECOND=0 REINS_TENANT_MAX_ACTIVE_RUNS=0 REINS_DRAIN_SECONDS=0 \
    "$DIST" serve >"$OUT/server-$1-$2.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/v1/health/ready" >/dev/null && break
    sleep 1
  done
  local token
  token=$(curl -sf -XPOST "http://127.0.0.1:$PORT/v1/admin/tokens" -H "Authorization: Bearer $admin" \
    -H 'content-type: application/json' -d '{"name":"bench","scopes":["runs:submit"]}' | jq -r .token)
  for figure in health submit; do
    local path=/v1/health/live method=GET body=""
    if [ "$figure" = submit ]; then path=/v1/runs method=POST body=$BODY; fi
    for phase in warmup measured; do
      local d=10; [ "$phase" = warmup ] && d=5
      REINS_WRK_TOKEN="$token" REINS_WRK_METHOD=$method REINS_WRK_BODY="$body" REINS_WRK_LABEL="$figure" \
        wrk -t2 -c32 -d${d}s -s bench/wrk/reins.lua "http://127.0.0.1:$PORT$path" >"$OUT/wrk-$1-$2-$figure-$phase.txt"
    done
    local line
    line=$(grep '^WRK_RESULT ' "$OUT/wrk-$1-$2-$figure-measured.txt" | sed 's/^WRK_RESULT //')
    echo "metrics=$1 round=$2 $figure $(jq -r '"rate=\(.rps | floor)/s p50=\(.p50_us)us p99=\(.p99_us)us non2xx=\(.non_2xx_3xx)"' <<<"$line" 2>/dev/null || echo "$line")"
  done
  # with REINS_DRAIN_SECONDS=0 the server stops its running attempts (the sleeps) as it shuts down
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for r in $(seq 1 "$ROUNDS"); do
  one true "$r"
  one false "$r"
done
echo "raw output: $OUT"
