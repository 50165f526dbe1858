#!/usr/bin/env bash
# Runs the Reins benchmarks against a freshly started local server and appends the results to
# docs/benchmarks.md.
#
#   bench/run.sh [h2|postgres]
#
# Steps: build (./mvnw -q -B -DskipTests install), start ./reins in the background on a fresh
# temporary data directory (postgres: a fresh database, reins_bench), wait for /v1/health/ready,
# run CancelLatency and then SubmitThroughput (once per HTTP client kind), stop the server, kill
# any run process left behind, and append a dated section to docs/benchmarks.md.
#
# CancelLatency runs first: SubmitThroughput leaves the worker slots busy with `sleep 3600` runs
# and a long queue of pending runs, and cancels need free slots.
#
# Environment knobs (defaults in brackets):
#   BENCH_HTTP_PORT [18080]  BENCH_REMOTE_PORT [25620]  (not the server defaults, to avoid clashes)
#   BENCH_WORKER_SLOTS [server default, 8]
#   SUBMIT_CLIENTS [32]  SUBMIT_WARMUP [10s]  SUBMIT_DURATION [30s]
#   SUBMIT_CLIENT_KINDS ["jdk socket"]  jdk = java.net.http.HttpClient, socket = lean raw-socket client
#   CANCEL_ITERATIONS [200]  CANCEL_WARMUP [5]
#   BENCH_SKIP_BUILD [0]     1 = do not run the root install; only (re)build the bench module
#   BENCH_SERVER_CMD [./reins]  "direct": what ./reins runs, without its build-if-needed step
#                    (java -cp deploy/target/classes:$(cat deploy/target/classpath.txt) dev.reins.deploy.Main)
#   BENCH_READY_TIMEOUT [300] seconds
#   BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres] BENCH_PG_DB [reins_bench]
#   BENCH_NO_DOC [0]         1 = print the section instead of appending it to docs/benchmarks.md
set -euo pipefail

MODE="${1:-h2}"
case "$MODE" in
  h2 | postgres) ;;
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
    ;;
  *)
    echo "usage: bench/run.sh [h2|postgres]" >&2
    exit 2
    ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The exact command, with the knobs the caller set (before defaults are filled in).
CMD="bench/run.sh $MODE"
for v in BENCH_HTTP_PORT BENCH_REMOTE_PORT BENCH_WORKER_SLOTS SUBMIT_CLIENTS SUBMIT_WARMUP SUBMIT_DURATION \
  SUBMIT_CLIENT_KINDS CANCEL_ITERATIONS CANCEL_WARMUP BENCH_SKIP_BUILD BENCH_SERVER_CMD BENCH_PG_HOST \
  BENCH_PG_PORT BENCH_PG_USER BENCH_PG_DB; do
  if [ -n "${!v:-}" ]; then
    CMD="$v=\"${!v}\" $CMD"
  fi
done

HTTP_PORT="${BENCH_HTTP_PORT:-18080}"
REMOTE_PORT="${BENCH_REMOTE_PORT:-25620}"
SUBMIT_CLIENTS="${SUBMIT_CLIENTS:-32}"
SUBMIT_WARMUP="${SUBMIT_WARMUP:-10s}"
SUBMIT_DURATION="${SUBMIT_DURATION:-30s}"
SUBMIT_CLIENT_KINDS="${SUBMIT_CLIENT_KINDS:-jdk socket}"
CANCEL_ITERATIONS="${CANCEL_ITERATIONS:-200}"
CANCEL_WARMUP="${CANCEL_WARMUP:-5}"
SERVER_CMD="${BENCH_SERVER_CMD:-./reins}"
READY_TIMEOUT="${BENCH_READY_TIMEOUT:-300}"
PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
PG_PORT="${BENCH_PG_PORT:-5432}"
PG_USER="${BENCH_PG_USER:-postgres}"
PG_DB="${BENCH_PG_DB:-reins_bench}"
DOC="$ROOT/docs/benchmarks.md"
URL="http://127.0.0.1:$HTTP_PORT"

# Every run process gets REINS_BENCH_TAG=$TAG in its environment (not in ours): that is how the
# cleanup finds exactly the processes this script caused, and nothing else.
TAG="rb$(date +%s)x$$"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$ROOT/bench/target/results/$STAMP-$MODE"
DATA_DIR=""
SERVER_SID=""
DB_CREATED=0
LEFTOVERS=0

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
    log "stopping the server (TERM to process group $SERVER_SID)"
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

pg() { psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  local n
  n="$(kill_tagged)"
  if [ "$n" -gt 0 ]; then
    log "killed $n leftover run process(es) carrying REINS_BENCH_TAG=$TAG"
  fi
  if [ -n "$DATA_DIR" ] && [ -d "$DATA_DIR" ]; then
    rm -rf -- "$DATA_DIR"
  fi
  if [ "$DB_CREATED" = 1 ]; then
    dropdb --if-exists --force -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$PG_DB" 2>/dev/null ||
      log "could not drop database $PG_DB"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RESULTS"
log "results and logs: $RESULTS"

# --- build ------------------------------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
  log "BENCH_SKIP_BUILD=1: building only the bench module"
  ./mvnw -o -q -B -pl bench package
else
  log "building: ./mvnw -q -B -DskipTests install"
  ./mvnw -q -B -DskipTests install
fi
BENCH_CP="$ROOT/bench/target/classes:$(cat "$ROOT/bench/target/classpath.txt")"
JAVA_BENCH=(java -Xms256m -Xmx512m -cp "$BENCH_CP")

if [ "$SERVER_CMD" = ./reins ] && [ ! -x ./reins ]; then
  echo "error: ./reins does not exist or is not executable" >&2
  exit 1
fi
if [ "$SERVER_CMD" = direct ]; then
  if [ ! -f deploy/target/classpath.txt ]; then
    echo "error: deploy/target/classpath.txt is missing: build first" >&2
    exit 1
  fi
  # shellcheck disable=SC2206 # REINS_JAVA_OPTS is a list of JVM options, as in ./reins
  SERVER_ARGV=(java ${REINS_JAVA_OPTS:-} -cp "deploy/target/classes:$(cat deploy/target/classpath.txt)" dev.reins.deploy.Main)
else
  # shellcheck disable=SC2206 # a command line given as one string
  SERVER_ARGV=($SERVER_CMD)
fi
for p in "$HTTP_PORT" "$REMOTE_PORT"; do
  if port_in_use "$p"; then
    echo "error: port $p is in use (set BENCH_HTTP_PORT / BENCH_REMOTE_PORT)" >&2
    exit 1
  fi
done

# The server and the clients share this machine: anything else running distorts the figures.
BACKGROUND="$(busy_cores 3)"
LOAD_BEFORE="$(cut -d ' ' -f 1-3 /proc/loadavg)"
log "background load before the benchmarks: $BACKGROUND of $(nproc) cores busy, load average $LOAD_BEFORE"
# not idle: a quarter of a core busy right now (the load average lags by minutes, so a previous
# benchmark would make an idle machine look busy; it is reported, not judged)
NOT_IDLE=0
if awk -v b="$BACKGROUND" 'BEGIN { exit !(b > 0.25) }'; then
  NOT_IDLE=1
  log "WARNING: the machine is not idle; the results will say so"
fi

# --- server -----------------------------------------------------------------------------------
DATA_DIR="$(mktemp -d /tmp/reins-bench-data.XXXXXX)"
SERVER_ENV=(
  "REINS_DATA_DIR=$DATA_DIR"
  "REINS_HTTP_HOST=127.0.0.1"
  "REINS_HTTP_PORT=$HTTP_PORT"
  "REINS_REMOTE_PORT=$REMOTE_PORT"
)
if [ -n "${BENCH_WORKER_SLOTS:-}" ]; then
  SERVER_ENV+=("REINS_WORKER_SLOTS=$BENCH_WORKER_SLOTS")
fi
if [ "$MODE" = postgres ]; then
  log "fresh PostgreSQL database $PG_DB on $PG_HOST:$PG_PORT"
  dropdb --if-exists --force -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
  createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
  DB_CREATED=1
  SERVER_ENV+=(
    "REINS_DB_URL=jdbc:postgresql://$PG_HOST:$PG_PORT/$PG_DB"
    "REINS_DB_USER=$PG_USER"
    "REINS_DB_PASSWORD="
  )
  JOURNAL="PostgreSQL $(pg -Atc 'show server_version' | awk '{print $1}') at $PG_HOST:$PG_PORT, fresh database \`$PG_DB\`"
else
  JOURNAL="H2 file database in a fresh temporary data directory"
fi

log "starting $SERVER_CMD (data dir $DATA_DIR, http $URL, remote port $REMOTE_PORT)"
# setsid: the server and whatever its script starts form one process group that we stop as a
# whole. (Run processes are in groups of their own; the tag finds those.)
env -u REINS_DB_URL -u REINS_DB_USER -u REINS_DB_PASSWORD "${SERVER_ENV[@]}" \
  setsid "${SERVER_ARGV[@]}" >"$RESULTS/server.log" 2>&1 </dev/null &
SERVER_SID=$!

started=$(date +%s)
until curl -fsS -o /dev/null --max-time 2 "$URL/v1/health/ready" 2>/dev/null; do
  if ! kill -0 "$SERVER_SID" 2>/dev/null; then
    wait "$SERVER_SID" && rc=0 || rc=$?
    SERVER_SID=""
    echo "error: the server exited (status $rc) before it was ready; last lines of $RESULTS/server.log:" >&2
    tail -n 40 "$RESULTS/server.log" >&2
    exit 1
  fi
  if [ $(($(date +%s) - started)) -ge "$READY_TIMEOUT" ]; then
    echo "error: the server was not ready within $READY_TIMEOUT s; last lines of $RESULTS/server.log:" >&2
    tail -n 40 "$RESULTS/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
READY_AFTER=$(($(date +%s) - started))
SERVER_PID="$(ps -o pid=,comm= --sid "$SERVER_SID" | awk '$2 == "java" { print $1; exit }')"
log "server ready after ${READY_AFTER}s (JVM pid ${SERVER_PID:-unknown})"

# --- benchmarks -------------------------------------------------------------------------------
status=0
log "CancelLatency: $CANCEL_ITERATIONS cancels"
"${JAVA_BENCH[@]}" dev.reins.bench.CancelLatency --url "$URL" --iterations "$CANCEL_ITERATIONS" \
  --warmup-iterations "$CANCEL_WARMUP" --tag "$TAG" 2>&1 | tee "$RESULTS/cancel.txt" || status=1
leftover="$(kill_tagged)"
if [ "$leftover" -gt 0 ]; then
  log "after CancelLatency: killed $leftover run process(es) that were still alive"
  LEFTOVERS=$((LEFTOVERS + leftover))
fi

SUBMIT_FILES=()
for kind in $SUBMIT_CLIENT_KINDS; do
  log "SubmitThroughput ($kind client): $SUBMIT_CLIENTS clients, warm-up $SUBMIT_WARMUP, measured $SUBMIT_DURATION"
  f="$RESULTS/submit-$kind.txt"
  SUBMIT_FILES+=("$f")
  "${JAVA_BENCH[@]}" dev.reins.bench.SubmitThroughput --url "$URL" --client "$kind" \
    --clients "$SUBMIT_CLIENTS" --warmup "$SUBMIT_WARMUP" --duration "$SUBMIT_DURATION" \
    --server-pid "${SERVER_PID:-0}" --tag "$TAG" 2>&1 | tee "$f" || status=1
done

LOAD_AFTER="$(cut -d ' ' -f 1-3 /proc/loadavg)"
SERVER_ALIVE=yes
kill -0 "$SERVER_SID" 2>/dev/null || SERVER_ALIVE="no (it exited during the benchmarks)"
stop_server
after_stop="$(kill_tagged)"
LEFTOVERS=$((LEFTOVERS + after_stop))
log "server stopped; run processes still alive after the stop (killed now): $after_stop"

# --- report -----------------------------------------------------------------------------------
REV="$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')"
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then
  REV="$REV (working tree has uncommitted changes)"
fi

{
  echo
  echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — $MODE"
  echo
  echo "- Machine: $(nproc) CPUs (\`nproc\`), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM (\`free -g\` total), $(uname -sr), $(java -version 2>&1 | head -n 1)"
  echo "- Source: $REV"
  echo "- Command: \`$CMD\`"
  echo "- Server: \`$SERVER_CMD\` on $URL, journal: $JOURNAL; worker slots: ${BENCH_WORKER_SLOTS:-server default}; ready ${READY_AFTER}s after start. Benchmark clients on the same machine."
  echo "- Background load before the start (3 s sample, everything on the machine): $BACKGROUND of $(nproc) cores busy; load average before: $LOAD_BEFORE, after the benchmarks: $LOAD_AFTER"
  if [ "$NOT_IDLE" = 1 ]; then
    echo "- **The machine was not idle before the start: these figures are distorted by other work.**"
  fi
  echo "- Run processes left alive after the server stopped (killed by the script): $after_stop; server alive until the stop: $SERVER_ALIVE"
  if [ "$status" != 0 ]; then
    echo "- **A benchmark exited with an error**; see the output below and \`${RESULTS#"$ROOT"/}\`."
  fi
  echo
  "${JAVA_BENCH[@]}" dev.reins.bench.Report "$MODE" "$RESULTS/cancel.txt" "${SUBMIT_FILES[@]}"
  echo "<details><summary>Raw result lines</summary>"
  echo
  echo '```json'
  cat "$RESULTS/cancel.txt" "${SUBMIT_FILES[@]}" | grep '^{"benchmark":' || true
  echo '```'
  echo
  echo "</details>"
} >"$RESULTS/section.md"

if [ "${BENCH_NO_DOC:-0}" = 1 ]; then
  cat "$RESULTS/section.md"
else
  cat "$RESULTS/section.md" >>"$DOC"
  log "appended the results to ${DOC#"$ROOT"/}"
  cat "$RESULTS/section.md"
fi
exit "$status"
