#!/usr/bin/env bash
# Runs the Reins benchmarks and appends a dated section to docs/benchmarks.md.
#
#   bench/run.sh [h2] [postgres] [cluster]     (no argument: all three, in this order)
#
# HTTP figures come from wrk (Debian package `wrk`; Lua script bench/wrk/reins.lua for the POST
# body and the Authorization header): BENCH_THREADS threads, BENCH_CONNECTIONS connections, a
# BENCH_WARMUP run that is thrown away, then a BENCH_DURATION run that is measured. Every figure is
# printed next to GET /v1/health/live (the server's own trivial route, no token) measured in the
# same run, so it reads as a ratio that survives a noisy machine.
#
# The Java programs in bench/ measure only what wrk cannot:
#   CancelLatency   cancel request -> TERM delivered (the run's process writes the time its TERM
#                   trap ran to a per-run marker file), one node and across nodes;
#   FailoverTime    SIGKILL of a node -> every run it was running is running again elsewhere;
#   TokenCheckCost  the CPU cost of one per-run token (JWT) check in process, without HTTP.
#
# h2, postgres: one server of the built distribution (deploy/target/reins) on a fresh data
#   directory (postgres: a fresh database, BENCH_PG_DB). Figures: health (reference); a GET that
#   is refused before any run is asked (GET /v1/runs/x: 401 without a token, 404 with an API
#   token, 404 with a per-run token: the difference is the token check); GET /v1/runs/{id} with
#   an API token and with that run's per-run token; cancel-to-TERM; POST /v1/runs (sleep 3600).
# baseline (with BENCH_BASELINE=<git revision>, e.g. 98e44b5, the last commit before
#   authentication): the same health and submit figures against that revision's server on
#   PostgreSQL, built from `git archive` under bench/target, in the same run.
# cluster: three nodes via deploy/local-cluster.sh on a fresh PostgreSQL database. Figures:
#   cross-node cancel-to-TERM; FAILOVER_ROUNDS SIGKILLs (the node is restarted after each); then
#   health and submits through node 1 only and through all three nodes (one wrk process, its
#   threads spread over the nodes: BENCH_CLUSTER_THREADS threads, BENCH_CLUSTER_CONNECTIONS
#   connections for both, so that the two figures differ only in where the requests go).
#
# Every server gets a random REINS_ADMIN_TOKEN (generated here, never printed); the benchmarks use
# an API token created through POST /v1/admin/tokens. Tenant submit-rate and active-run limits are
# switched off (REINS_TENANT_SUBMITS_PER_SECOND=0, REINS_TENANT_MAX_ACTIVE_RUNS=0): the defaults
# (1,000/s, 10,000 active runs) would be the figure otherwise. REINS_DRAIN_SECONDS=0 so the servers
# stop at once. Every run gets REINS_BENCH_TAG in its environment; whatever is left at the end is
# found by that tag and killed.
#
# Environment knobs (defaults in brackets):
#   BENCH_THREADS [2] BENCH_CONNECTIONS [32] BENCH_WARMUP [5s] BENCH_DURATION [10s]
#   BENCH_SERVER_WARMUP [10s]  after each server start: this long of health, then of a refused GET
#                    (not measured; 0: none), before the first figure
#   BENCH_CLUSTER_THREADS [3] BENCH_CLUSTER_CONNECTIONS [33]
#   CANCEL_ITERATIONS [200] CLUSTER_CANCEL_ITERATIONS [100] FAILOVER_ROUNDS [3] FAILOVER_RUNS [6]
#   BENCH_BASELINE [unset]   a git revision to measure as the baseline (see above)
#   BENCH_SKIP_BUILD [0]     1 = use what is built (deploy/target/reins, bench/target)
#   BENCH_HTTP_PORT [28180] BENCH_REMOTE_PORT [28620]   (the cluster uses the next three of each)
#   BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres] BENCH_PG_DB [reins_bench]
#   BENCH_NO_DOC [0]         1 = print the section instead of appending it to docs/benchmarks.md
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODES=()
for a in "$@"; do
  case "$a" in
    h2 | postgres | cluster) MODES+=("$a") ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *)
      echo "usage: bench/run.sh [h2] [postgres] [cluster]" >&2
      exit 2
      ;;
  esac
done
[ ${#MODES[@]} -gt 0 ] || MODES=(h2 postgres cluster)

CMD="bench/run.sh $*"
for v in BENCH_THREADS BENCH_CONNECTIONS BENCH_WARMUP BENCH_DURATION BENCH_SERVER_WARMUP BENCH_CLUSTER_THREADS BENCH_CLUSTER_CONNECTIONS \
  CANCEL_ITERATIONS CLUSTER_CANCEL_ITERATIONS FAILOVER_ROUNDS FAILOVER_RUNS BENCH_BASELINE BENCH_SKIP_BUILD \
  BENCH_HTTP_PORT BENCH_REMOTE_PORT BENCH_PG_HOST BENCH_PG_PORT BENCH_PG_USER BENCH_PG_DB; do
  if [ -n "${!v:-}" ]; then
    CMD="$v=${!v} $CMD"
  fi
done
CMD="${CMD% }"

THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNECTIONS:-32}"
WARMUP="${BENCH_WARMUP:-5s}"
DURATION="${BENCH_DURATION:-10s}"
SERVER_WARMUP="${BENCH_SERVER_WARMUP:-10s}"
CTHREADS="${BENCH_CLUSTER_THREADS:-3}"
CCONNS="${BENCH_CLUSTER_CONNECTIONS:-33}"
CANCEL_ITERATIONS="${CANCEL_ITERATIONS:-200}"
CLUSTER_CANCEL_ITERATIONS="${CLUSTER_CANCEL_ITERATIONS:-100}"
FAILOVER_ROUNDS="${FAILOVER_ROUNDS:-3}"
FAILOVER_RUNS="${FAILOVER_RUNS:-6}"
HTTP_PORT="${BENCH_HTTP_PORT:-28180}"
REMOTE_PORT="${BENCH_REMOTE_PORT:-28620}"
PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
PG_PORT="${BENCH_PG_PORT:-5432}"
PG_USER="${BENCH_PG_USER:-postgres}"
PG_DB="${BENCH_PG_DB:-reins_bench}"
DOC="$ROOT/docs/benchmarks.md"
DIST="$ROOT/deploy/target/reins"

TAG="rb$(date +%s)x$$"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$ROOT/bench/target/results/$STAMP"
CLUSTER_DIR="$RESULTS/cluster"
ADMIN_TOKEN="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
[ ${#ADMIN_TOKEN} -eq 48 ] || { echo "error: cannot read /dev/urandom" >&2; exit 1; }
SERVER_SID=""
CLUSTER_UP=0
CLUSTER_ENV=()
DBS_CREATED=()
DATA_DIRS=()
WRK_SCRIPT="$ROOT/bench/wrk/reins.lua"
RESULT_LINES="$RESULTS/results.jsonl"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Cores busy (all processes) over the next $1 seconds, from /proc/stat.
busy_cores() {
  local a b
  a="$(head -n 1 /proc/stat)"
  sleep "$1"
  b="$(head -n 1 /proc/stat)"
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " ");
    for (i = 2; i <= 9; i++) { t += y[i] - x[i] }
    idle = (y[5] - x[5]) + (y[6] - x[6]);
    printf "%.2f", (t > 0 ? (t - idle) / t * n : 0) }'
}

port_in_use() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# Kills (KILL) every process whose environment holds our tag; echoes how many.
kill_tagged() {
  local n=0 d pid
  for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    [ "$pid" = "$$" ] && continue
    if grep -qzxF "REINS_BENCH_TAG=$TAG" "$d/environ" 2>/dev/null; then
      if kill -KILL "$pid" 2>/dev/null; then
        n=$((n + 1))
      fi
    fi
  done
  echo "$n"
}

stop_server() {
  [ -n "$SERVER_SID" ] || return 0
  if kill -0 -- "-$SERVER_SID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_SID" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do
      kill -0 -- "-$SERVER_SID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 -- "-$SERVER_SID" 2>/dev/null; then
      log "server still alive after 30 s: KILL"
      kill -KILL -- "-$SERVER_SID" 2>/dev/null || true
    fi
  fi
  wait "$SERVER_SID" 2>/dev/null || true
  SERVER_SID=""
}

stop_cluster() {
  [ "$CLUSTER_UP" = 1 ] || return 0
  deploy/local-cluster.sh stop --dir "$CLUSTER_DIR" --timeout 60 >&2 || true
  CLUSTER_UP=0
}

pg() { psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 "$@"; }

fresh_db() {
  dropdb --if-exists --force -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$1"
  createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$1"
  DBS_CREATED+=("$1")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  stop_cluster
  local n db d
  n="$(kill_tagged)"
  [ "$n" -gt 0 ] && log "killed $n leftover run process(es) carrying REINS_BENCH_TAG=$TAG"
  for d in ${DATA_DIRS[@]+"${DATA_DIRS[@]}"}; do
    rm -rf -- "$d"
  done
  for db in ${DBS_CREATED[@]+"${DBS_CREATED[@]}"}; do
    dropdb --if-exists --force -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$db" 2>/dev/null || log "could not drop database $db"
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install -y wrk)" >&2; exit 1; }
command -v jq >/dev/null || { echo "error: jq is missing (apt-get install -y jq)" >&2; exit 1; }
mkdir -p "$RESULTS"
: >"$RESULT_LINES"
log "results and logs: $RESULTS"

# --- build ------------------------------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building: ./mvnw -B -o -q -DskipTests package"
  ./mvnw -B -o -q -DskipTests package
fi
[ -x "$DIST/bin/reins" ] || { echo "error: no distribution in $DIST (./mvnw -B -o -DskipTests package)" >&2; exit 1; }
JAVA_BENCH=(java -Xms128m -Xmx256m -cp "$ROOT/bench/target/classes:$(cat "$ROOT/bench/target/classpath.txt")")

BASELINE_DIR=""
if [ -n "${BENCH_BASELINE:-}" ]; then
  rev="$(git rev-parse --short "$BENCH_BASELINE")"
  BASELINE_DIR="$ROOT/bench/target/baseline-$rev"
  if [ ! -f "$BASELINE_DIR/deploy/target/classpath.txt" ]; then
    log "building the baseline $rev in $BASELINE_DIR (git archive)"
    rm -rf "$BASELINE_DIR" && mkdir -p "$BASELINE_DIR"
    git archive "$rev" | tar -x -C "$BASELINE_DIR"
    (cd "$BASELINE_DIR" && ./mvnw -B -o -q -DskipTests package)
  fi
fi

# --- the machine ------------------------------------------------------------------------------
BACKGROUND="$(busy_cores 3)"
LOAD_BEFORE="$(cut -d ' ' -f 1-3 /proc/loadavg)"
log "background: $BACKGROUND of $(nproc) cores busy, load average $LOAD_BEFORE"

# --- helpers ----------------------------------------------------------------------------------

# wrk_run LABEL URL THREADS CONNECTIONS [VAR=value ...]: warm-up, then the measured run; appends
# the result line (with the label and the mode) to $RESULT_LINES.
wrk_run() {
  local label=$1 url=$2 t=$3 c=$4 out
  shift 4
  out="$RESULTS/wrk-$MODE-$label.txt"
  env "$@" REINS_WRK_LABEL="$label" wrk -t"$t" -c"$c" -d"$WARMUP" --timeout 10s -s "$WRK_SCRIPT" "$url" >"$out.warmup" 2>&1 || true
  env "$@" REINS_WRK_LABEL="$label" wrk -t"$t" -c"$c" -d"$DURATION" --timeout 10s --latency -s "$WRK_SCRIPT" "$url" >"$out" 2>&1 || true
  local line
  line="$(sed -n 's/^WRK_RESULT //p' "$out")"
  if [ -z "$line" ]; then
    log "wrk $label gave no result; see $out"
    return 0
  fi
  jq -c --arg mode "$MODE" --arg conns "$c" '. + {benchmark: "wrk", mode: $mode, connections: ($conns | tonumber)}' <<<"$line" >>"$RESULT_LINES"
  log "$(jq -r '"\(.label): \(.rps | floor) req/s, p50 \(.p50_us / 1000) ms, p99 \(.p99_us / 1000) ms, non-2xx \(.non_2xx_3xx)"' <<<"$line")"
}

# server_warmup URL [TOKEN]: BENCH_SERVER_WARMUP of mixed traffic right after the start (health,
# a refused GET, submits), so that the JIT's first work does not land on the first figure.
server_warmup() {
  local url=$1 token=${2:-}
  [ "$SERVER_WARMUP" != 0 ] || return 0
  wrk -t"$THREADS" -c"$CONNS" -d"$SERVER_WARMUP" --timeout 10s "$url/v1/health/live" >/dev/null 2>&1 || true
  env REINS_WRK_TOKEN="$token" wrk -t"$THREADS" -c"$CONNS" -d"$SERVER_WARMUP" --timeout 10s -s "$WRK_SCRIPT" "$url/v1/runs/x" >/dev/null 2>&1 || true
}

# java_result MODE FILE: the {"benchmark": line of a Java program's output, tagged with the mode.
java_result() {
  grep '^{"benchmark":' "$2" | jq -c --arg mode "$1" '. + {mode: $mode}' >>"$RESULT_LINES" || true
}

wait_ready() {
  local url=$1 pid=$2 log_file=$3 started
  started=$(date +%s)
  until curl -fsS -o /dev/null --max-time 2 "$url/v1/health/ready" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the server exited before it was ready; the end of $log_file:" >&2
      tail -n 40 "$log_file" >&2
      exit 1
    fi
    if [ $(($(date +%s) - started)) -ge 300 ]; then
      echo "error: the server was not ready within 300 s ($log_file)" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# api_token URL: a new API token (runs:read, runs:submit, runs:cancel) created with the admin token.
api_token() {
  curl -fsS --retry 10 --retry-delay 1 -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$1/v1/admin/tokens" \
    -d '{"name":"bench","scopes":["runs:read","runs:submit","runs:cancel"]}' | jq -r .token
}

# expect STATUS DESCRIPTION curl-args...: checks what a request answers before wrk repeats it (the
# PostgreSQL server may be shared with other work: a refused check is reported, not fatal).
expect() {
  local want=$1 what=$2 got
  shift 2
  got="$(curl -s -o /dev/null -w '%{http_code}' "$@")"
  if [ "$got" != "$want" ]; then
    log "WARNING: $what answered $got, expected $want (the figure that repeats it counts the difference as non-2xx)"
  fi
}

SUBMIT_BODY="{\"executor\":{\"command\":[\"sleep\",\"3600\"],\"env\":{\"REINS_BENCH_TAG\":\"$TAG\"}},\"timeoutSeconds\":86400}"

COMMON_ENV=(
  "REINS_ADMIN_TOKEN=$ADMIN_TOKEN"
  "REINS_TENANT_SUBMITS_PER_SECOND=0"
  "REINS_TENANT_MAX_ACTIVE_RUNS=0"
  "REINS_DRAIN_SECONDS=0"
)

# --- one server -------------------------------------------------------------------------------

start_server() { # start_server MODE ARGV...
  local mode=$1 data
  shift
  for p in "$HTTP_PORT" "$REMOTE_PORT"; do
    ! port_in_use "$p" || { echo "error: port $p is in use (BENCH_HTTP_PORT / BENCH_REMOTE_PORT)" >&2; exit 1; }
  done
  data="$(mktemp -d /tmp/reins-bench-data.XXXXXX)"
  DATA_DIRS+=("$data")
  local envs=("${COMMON_ENV[@]}" "REINS_DATA_DIR=$data" "REINS_HTTP_HOST=127.0.0.1" "REINS_HTTP_PORT=$HTTP_PORT" "REINS_REMOTE_PORT=$REMOTE_PORT")
  if [ "$mode" != h2 ]; then
    fresh_db "$PG_DB"
    envs+=("REINS_DB_URL=jdbc:postgresql://$PG_HOST:$PG_PORT/$PG_DB" "REINS_DB_USER=$PG_USER" "REINS_DB_PASSWORD=")
  fi
  env -u REINS_DB_URL -u REINS_DB_USER -u REINS_DB_PASSWORD "${envs[@]}" \
    setsid "$@" >"$RESULTS/server-$mode.log" 2>&1 </dev/null &
  SERVER_SID=$!
  wait_ready "http://127.0.0.1:$HTTP_PORT" "$SERVER_SID" "$RESULTS/server-$mode.log"
}

single() {
  MODE=$1
  local url="http://127.0.0.1:$HTTP_PORT" api jwt run_id i
  log "== $MODE: one server"
  start_server "$MODE" "$DIST/bin/reins" serve
  api="$(api_token "$url")"
  # a per-run token: the run's process writes its REINS_TOKEN to a file
  local jwt_file="$RESULTS/jwt-$MODE"
  run_id="$(curl -fsS --retry 10 --retry-delay 1 -X POST -H "Authorization: Bearer $api" -H 'Content-Type: application/json' "$url/v1/runs" \
    -d "{\"executor\":{\"command\":[\"sh\",\"-c\",\"umask 077; printf %s \\\"\$REINS_TOKEN\\\" > $jwt_file; exec sleep 3600\"],\"env\":{\"REINS_BENCH_TAG\":\"$TAG\"}}}" | jq -r .id)"
  for i in $(seq 1 200); do
    [ -s "$jwt_file" ] && break
    sleep 0.1
  done
  jwt="$(cat "$jwt_file")"
  rm -f "$jwt_file"
  expect 200 "GET /v1/health/live" "$url/v1/health/live"
  expect 401 "GET /v1/runs/x without a token" "$url/v1/runs/x"
  expect 404 "GET /v1/runs/x with an API token" -H "Authorization: Bearer $api" "$url/v1/runs/x"
  expect 404 "GET /v1/runs/x with a per-run token" -H "Authorization: Bearer $jwt" "$url/v1/runs/x"
  expect 200 "GET /v1/runs/{id} with an API token" -H "Authorization: Bearer $api" "$url/v1/runs/$run_id"
  expect 200 "GET /v1/runs/{id} with its per-run token" -H "Authorization: Bearer $jwt" "$url/v1/runs/$run_id"

  server_warmup "$url" "$api"
  wrk_run health "$url/v1/health/live" "$THREADS" "$CONNS"
  wrk_run refused_no_token "$url/v1/runs/x" "$THREADS" "$CONNS"
  wrk_run refused_api_token "$url/v1/runs/x" "$THREADS" "$CONNS" REINS_WRK_TOKEN="$api"
  wrk_run refused_run_token "$url/v1/runs/x" "$THREADS" "$CONNS" REINS_WRK_TOKEN="$jwt"
  wrk_run get_run_api_token "$url/v1/runs/$run_id" "$THREADS" "$CONNS" REINS_WRK_TOKEN="$api"
  wrk_run get_run_run_token "$url/v1/runs/$run_id" "$THREADS" "$CONNS" REINS_WRK_TOKEN="$jwt"

  log "$MODE: CancelLatency, $CANCEL_ITERATIONS cancels"
  REINS_BENCH_TOKEN="$api" "${JAVA_BENCH[@]}" dev.reins.bench.CancelLatency --url "$url" \
    --iterations "$CANCEL_ITERATIONS" --tag "$TAG" >"$RESULTS/cancel-$MODE.txt" 2>"$RESULTS/cancel-$MODE.err" || log "CancelLatency failed (see $RESULTS/cancel-$MODE.*)"
  java_result "$MODE" "$RESULTS/cancel-$MODE.txt"
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $api" -H 'Content-Type: application/json' -d '{}' "$url/v1/runs/$run_id/cancel?wait=10s" ||
    log "could not cancel $run_id"

  expect 202 "POST /v1/runs" -X POST -H "Authorization: Bearer $api" -H 'Content-Type: application/json' -d "$SUBMIT_BODY" "$url/v1/runs"
  wrk_run submit "$url/v1/runs" "$THREADS" "$CONNS" REINS_WRK_TOKEN="$api" REINS_WRK_METHOD=POST REINS_WRK_BODY="$SUBMIT_BODY"
  wrk_run health_end "$url/v1/health/live" "$THREADS" "$CONNS" # the reference again: how much the machine drifted
  stop_server
  kill_tagged >/dev/null
}

baseline() {
  MODE="baseline"
  local url="http://127.0.0.1:$HTTP_PORT"
  log "== baseline $BENCH_BASELINE (PostgreSQL, no authentication)"
  start_server baseline java -cp "$BASELINE_DIR/deploy/target/classes:$(cat "$BASELINE_DIR/deploy/target/classpath.txt")" dev.reins.deploy.Main
  server_warmup "$url"
  wrk_run health "$url/v1/health/live" "$THREADS" "$CONNS"
  wrk_run submit "$url/v1/runs" "$THREADS" "$CONNS" REINS_WRK_METHOD=POST REINS_WRK_BODY="$SUBMIT_BODY"
  wrk_run health_end "$url/v1/health/live" "$THREADS" "$CONNS"
  stop_server
  kill_tagged >/dev/null
}

# --- three nodes ------------------------------------------------------------------------------

cluster() {
  MODE=cluster
  local db="${PG_DB}_cluster" base_http=$((HTTP_PORT + 1)) base_remote=$((REMOTE_PORT + 1)) api r victim
  local urls="http://127.0.0.1:$base_http,http://127.0.0.1:$((base_http + 1)),http://127.0.0.1:$((base_http + 2))"
  local ports="$base_remote,$((base_remote + 1)),$((base_remote + 2))"
  local node1="http://127.0.0.1:$base_http"
  log "== cluster: three nodes (deploy/local-cluster.sh) on PostgreSQL"
  fresh_db "$db"
  # local-cluster.sh hands the REINS_* variables of its caller to the nodes, on start and on restart
  CLUSTER_ENV=("${COMMON_ENV[@]}" "REINS_DB_USER=$PG_USER" "REINS_DB_PASSWORD=")
  env -u REINS_DB_URL "${CLUSTER_ENV[@]}" deploy/local-cluster.sh start 3 --db-url "jdbc:postgresql://$PG_HOST:$PG_PORT/$db" --dir "$CLUSTER_DIR" \
    --base-http-port "$base_http" --base-remote-port "$base_remote" >"$RESULTS/cluster-start.txt" 2>&1 ||
    { cat "$RESULTS/cluster-start.txt" >&2; exit 1; }
  CLUSTER_UP=1
  api="$(api_token "$node1")"

  log "cluster: CancelLatency across nodes, $CLUSTER_CANCEL_ITERATIONS cancels"
  REINS_BENCH_TOKEN="$api" "${JAVA_BENCH[@]}" dev.reins.bench.CancelLatency --urls "$urls" --remote-ports "$ports" \
    --iterations "$CLUSTER_CANCEL_ITERATIONS" --tag "$TAG" >"$RESULTS/cancel-cluster.txt" 2>"$RESULTS/cancel-cluster.err" || log "CancelLatency failed (see $RESULTS/cancel-cluster.*)"
  java_result cluster "$RESULTS/cancel-cluster.txt"

  for r in $(seq 1 "$FAILOVER_ROUNDS"); do
    log "cluster: failover round $r of $FAILOVER_ROUNDS"
    REINS_BENCH_TOKEN="$api" "${JAVA_BENCH[@]}" dev.reins.bench.FailoverTime --urls "$urls" --remote-ports "$ports" \
      --cluster-dir "$CLUSTER_DIR" --runs "$FAILOVER_RUNS" --tag "$TAG" >"$RESULTS/failover-$r.txt" 2>"$RESULTS/failover-$r.err" ||
      log "FailoverTime round $r failed (see $RESULTS/failover-$r.*)"
    cat "$RESULTS/failover-$r.txt" >&2
    java_result cluster "$RESULTS/failover-$r.txt"
    victim="$(grep '^{"benchmark":' "$RESULTS/failover-$r.txt" | jq -r .killed_node || true)"
    if [ -n "$victim" ]; then
      env -u REINS_DB_URL "${CLUSTER_ENV[@]}" deploy/local-cluster.sh restart "$victim" --dir "$CLUSTER_DIR" >&2 || { log "node $victim did not come back"; break; }
    fi
  done

  for u in ${urls//,/ }; do
    server_warmup "$u" "$api" # a restarted node's JVM is cold
  done
  wrk_run health_node1 "$node1/v1/health/live" "$CTHREADS" "$CCONNS"
  wrk_run submit_node1 "$node1/v1/runs" "$CTHREADS" "$CCONNS" REINS_WRK_TOKEN="$api" REINS_WRK_METHOD=POST REINS_WRK_BODY="$SUBMIT_BODY"
  wrk_run health_3_nodes "$node1/v1/health/live" "$CTHREADS" "$CCONNS" REINS_WRK_PORTS="$base_http,$((base_http + 1)),$((base_http + 2))"
  wrk_run submit_3_nodes "$node1/v1/runs" "$CTHREADS" "$CCONNS" REINS_WRK_TOKEN="$api" REINS_WRK_METHOD=POST REINS_WRK_BODY="$SUBMIT_BODY" \
    REINS_WRK_PORTS="$base_http,$((base_http + 1)),$((base_http + 2))"
  stop_cluster
  kill_tagged >/dev/null
}

log "token check cost, in process"
"${JAVA_BENCH[@]}" dev.reins.bench.TokenCheckCost >"$RESULTS/token-check.txt" 2>&1 || log "TokenCheckCost failed"
java_result jvm "$RESULTS/token-check.txt"

for m in "${MODES[@]}"; do
  case "$m" in
    h2 | postgres) single "$m" ;;
    cluster) cluster ;;
  esac
  if [ "$m" = postgres ] && [ -n "$BASELINE_DIR" ]; then
    baseline
  fi
done
LOAD_AFTER="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# --- report -----------------------------------------------------------------------------------
PLOT=""
if command -v gnuplot >/dev/null; then
  plot_file="$RESULTS/benchmarks.png"
  [ "${BENCH_NO_DOC:-0}" = 1 ] || plot_file="$ROOT/docs/benchmarks.png"
  if bench/plot.sh "$RESULT_LINES" "$plot_file" 2>"$RESULTS/plot.err"; then
    PLOT="${plot_file#"$ROOT"/docs/}"
  else
    log "no plot (see $RESULTS/plot.err)"
  fi
else
  log "no plot: gnuplot is missing (apt-get install -y gnuplot-nox)"
fi
REV="$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')"
[ -z "$(git status --porcelain -- . ':!docs' 2>/dev/null | head -1)" ] || REV="$REV (with uncommitted changes)"
BENCH_CMD="$CMD" REV="$REV" BACKGROUND="$BACKGROUND" LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$LOAD_AFTER" \
  THREADS="$THREADS" CONNS="$CONNS" WARMUP="$WARMUP" DURATION="$DURATION" CTHREADS="$CTHREADS" CCONNS="$CCONNS" \
  BASELINE="${BENCH_BASELINE:-}" PLOT="$PLOT" STARTED="${STAMP:9:2}:${STAMP:11:2}" bench/report.sh "$RESULT_LINES" >"$RESULTS/section.md"
if [ "${BENCH_NO_DOC:-0}" = 1 ]; then
  cat "$RESULTS/section.md"
else
  cat "$RESULTS/section.md" >>"$DOC"
  log "appended the results to ${DOC#"$ROOT"/}"
fi
