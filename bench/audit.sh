#!/usr/bin/env bash
# The audit figures of issue 8 (the journal read back, the run list's projection lag, lookups of
# unknown run ids) against one server of the built distribution; appends a dated section to
# docs/benchmarks.md. A companion of bench/run.sh, in its style (wrk for HTTP rates, every HTTP
# figure next to GET /v1/health/live measured in the same run, ratios over absolute rates).
#
#   bench/audit.sh [postgres] [h2]     (no argument: postgres, then h2)
#
# Per mode, one server on fresh data (postgres: a fresh database BENCH_PG_DB; h2: a fresh data
# directory). The server inherits this script's environment but for REINS_DB_* (so REINS_JAVA_OPTS,
# e.g. -D overrides of the read journal's settings, reaches it):
#
#   1. a run with many events: `false` with retry.maxAttempts AUDIT_ATTEMPTS and no backoff, until
#      it has failed for good (each attempt journals its placement, start and end);
#   2. projection lag under the submit load: wrk POST /v1/runs (sleep 3600, API token) as in
#      bench/run.sh, while GET /v1/admin/projections (the run list's pendingEvents and lagMillis)
#      is sampled every AUDIT_LAG_INTERVAL s; after the load, sampling goes on until nothing is
#      pending (the catch-up time);
#   3. the journal read back (dev.reins.bench.JournalReadBack, AUDIT_ROUNDS rounds, the figures
#      interleaved in each round): every event through the global feed GET /v1/events?limit=1000
#      paged from the start until caught up, with an operator token (admin + runs:read: every
#      tenant, no filter) and with an API token (its tenant: a filtered read); the many-event run's
#      GET /v1/runs/{id}/events; next to a plain JDBC SELECT over event_journal (the rows the feed
#      shows, runs' and delegations', in ordering order; the run's rows by persistence_id), every
#      column read, payload bytes too. PostgreSQL also gets psql's \copy of the same SELECT to
#      /dev/null, for reference. H2: the SELECTs run after the server has stopped, on the file
#      (embedded, as the server reads it; H2's auto-server TCP port fetches every payload BLOB in
#      round trips of its own and is far slower than the server's own reads);
#   4. unknown run ids: wrk GET /v1/runs/<a random UUID per request> (bench/wrk/unknown-run.lua,
#      API token: 404 after a journal lookup) between two GET /v1/health/live.
#
# Environment knobs (defaults in brackets):
#   BENCH_THREADS [2] BENCH_CONNECTIONS [32] BENCH_WARMUP [5s] BENCH_DURATION [10s]
#   BENCH_SERVER_WARMUP [10s] BENCH_SKIP_BUILD [0] BENCH_NO_DOC [0]
#   BENCH_HTTP_PORT [28380] BENCH_REMOTE_PORT [28720]   (not run.sh's, so both can run)
#   BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres] BENCH_PG_DB [reins_auditbench]
#   AUDIT_ATTEMPTS [1000] AUDIT_ROUNDS [3] AUDIT_REPLAY_READS [20] AUDIT_LAG_INTERVAL [1]
#   AUDIT_CATCHUP_TIMEOUT [180]   seconds to wait for the projection after the load
#   AUDIT_ANALYZE [1]   postgres: ANALYZE event_journal and event_tag before the reads (as
#                       autovacuum would have by then on a database that is not minutes old)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODES=()
for a in "$@"; do
  case "$a" in
    h2 | postgres) MODES+=("$a") ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *)
      echo "usage: bench/audit.sh [postgres] [h2]" >&2
      exit 2
      ;;
  esac
done
[ ${#MODES[@]} -gt 0 ] || MODES=(postgres h2)

CMD="bench/audit.sh $*"
for v in BENCH_THREADS BENCH_CONNECTIONS BENCH_WARMUP BENCH_DURATION BENCH_SERVER_WARMUP BENCH_SKIP_BUILD BENCH_HTTP_PORT \
  BENCH_REMOTE_PORT BENCH_PG_HOST BENCH_PG_PORT BENCH_PG_USER BENCH_PG_DB AUDIT_ATTEMPTS AUDIT_ROUNDS AUDIT_REPLAY_READS \
  AUDIT_LAG_INTERVAL AUDIT_CATCHUP_TIMEOUT AUDIT_ANALYZE; do
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
HTTP_PORT="${BENCH_HTTP_PORT:-28380}"
REMOTE_PORT="${BENCH_REMOTE_PORT:-28720}"
PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
PG_PORT="${BENCH_PG_PORT:-5432}"
PG_USER="${BENCH_PG_USER:-postgres}"
PG_DB="${BENCH_PG_DB:-reins_auditbench}"
ATTEMPTS="${AUDIT_ATTEMPTS:-1000}"
ROUNDS="${AUDIT_ROUNDS:-3}"
REPLAY_READS="${AUDIT_REPLAY_READS:-20}"
LAG_INTERVAL="${AUDIT_LAG_INTERVAL:-1}"
CATCHUP_TIMEOUT="${AUDIT_CATCHUP_TIMEOUT:-180}"
ANALYZE="${AUDIT_ANALYZE:-1}"
DOC="$ROOT/docs/benchmarks.md"
DIST="$ROOT/deploy/target/reins"

TAG="ra$(date +%s)x$$"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$ROOT/bench/target/results/$STAMP-audit"
ADMIN_TOKEN="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
[ ${#ADMIN_TOKEN} -eq 48 ] || { echo "error: cannot read /dev/urandom" >&2; exit 1; }
SERVER_SID=""
DBS_CREATED=()
DATA_DIRS=()
SAMPLER_PID=""
WRK_SCRIPT="$ROOT/bench/wrk/reins.lua"
UNKNOWN_SCRIPT="$ROOT/bench/wrk/unknown-run.lua"
RESULT_LINES="$RESULTS/results.jsonl"

log() { printf '[audit %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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

stop_sampler() {
  [ -n "$SAMPLER_PID" ] || return 0
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
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

fresh_db() {
  dropdb --if-exists --force -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$1"
  createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$1"
  DBS_CREATED+=("$1")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_sampler
  stop_server
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

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building: ./mvnw -B -o -q -DskipTests package -pl deploy,bench -am"
  ./mvnw -B -o -q -DskipTests package -pl deploy,bench -am
fi
[ -x "$DIST/bin/reins" ] || { echo "error: no distribution in $DIST (./mvnw -B -o -DskipTests package)" >&2; exit 1; }
JAVA_BENCH=(java -Xms128m -Xmx256m -Dh2.bindAddress=127.0.0.1 -cp "$ROOT/bench/target/classes:$(cat "$ROOT/bench/target/classpath.txt")")

LOAD_BEFORE="$(cut -d ' ' -f 1-3 /proc/loadavg)"
log "load average $LOAD_BEFORE on $(nproc) cores"

# wrk_run LABEL URL SCRIPT [VAR=value ...]: warm-up, then the measured run; appends the result line.
wrk_run() {
  local label=$1 url=$2 script=$3 out line
  shift 3
  out="$RESULTS/wrk-$MODE-$label.txt"
  env "$@" REINS_WRK_LABEL="$label" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout 10s -s "$script" "$url" >"$out.warmup" 2>&1 || true
  env "$@" REINS_WRK_LABEL="$label" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s --latency -s "$script" "$url" >"$out" 2>&1 || true
  line="$(sed -n 's/^WRK_RESULT //p' "$out")"
  if [ -z "$line" ]; then
    log "wrk $label gave no result; see $out"
    return 0
  fi
  jq -c --arg mode "$MODE" --arg conns "$CONNS" --arg load "$(cut -d ' ' -f 1 /proc/loadavg)" \
    '. + {benchmark: "wrk", mode: $mode, connections: ($conns | tonumber), load1: ($load | tonumber)}' <<<"$line" >>"$RESULT_LINES"
  log "$(jq -r '"\(.label): \(.rps | floor) req/s, p50 \(.p50_us / 1000) ms, p99 \(.p99_us / 1000) ms, non-2xx \(.non_2xx_3xx)"' <<<"$line")"
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

# token URL NAME SCOPES-JSON: a new API token of the default tenant, created with the admin token.
token() {
  curl -fsS --retry 10 --retry-delay 1 -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$1/v1/admin/tokens" \
    -d "{\"name\":\"$2\",\"scopes\":$3}" | jq -r .token
}

# sample_lag URL FILE: every AUDIT_LAG_INTERVAL s, "<unix ms> <pendingEvents> <lagMillis>" of the run list.
sample_lag() {
  local url=$1 file=$2 body
  while true; do
    body="$(curl -fsS --max-time 5 -H "Authorization: Bearer $ADMIN_TOKEN" "$url/v1/admin/projections" 2>/dev/null || true)"
    if [ -n "$body" ]; then
      printf '%s %s\n' "$(date +%s%3N)" "$(jq -r '.projections[0] | "\(.pendingEvents) \(.lagMillis)"' <<<"$body")" >>"$file"
    fi
    sleep "$LAG_INTERVAL"
  done
}

SUBMIT_BODY="{\"executor\":{\"command\":[\"sleep\",\"3600\"],\"env\":{\"REINS_BENCH_TAG\":\"$TAG\"}},\"timeoutSeconds\":86400}"

single() {
  MODE=$1
  local url="http://127.0.0.1:$HTTP_PORT" data db_url api operator run_id state i started
  log "== $MODE"
  for p in "$HTTP_PORT" "$REMOTE_PORT"; do
    ! port_in_use "$p" || { echo "error: port $p is in use (BENCH_HTTP_PORT / BENCH_REMOTE_PORT)" >&2; exit 1; }
  done
  data="$(mktemp -d /tmp/reins-audit-data.XXXXXX)"
  DATA_DIRS+=("$data")
  local envs=("REINS_ADMIN_TOKEN=$ADMIN_TOKEN" "REINS_TENANT_SUBMITS_PER_SECOND=0" "REINS_TENANT_MAX_ACTIVE_RUNS=0" "REINS_DRAIN_SECONDS=0"
    "REINS_DATA_DIR=$data" "REINS_HTTP_HOST=127.0.0.1" "REINS_HTTP_PORT=$HTTP_PORT" "REINS_REMOTE_PORT=$REMOTE_PORT")
  if [ "$MODE" = postgres ]; then
    fresh_db "$PG_DB"
    db_url="jdbc:postgresql://$PG_HOST:$PG_PORT/$PG_DB"
    envs+=("REINS_DB_URL=$db_url" "REINS_DB_USER=$PG_USER" "REINS_DB_PASSWORD=")
  else
    # the server's own embedded database; a second JVM reaches it through H2's auto-server port
    db_url="jdbc:h2:file:$data/journal/reins;AUTO_SERVER=TRUE"
  fi
  env -u REINS_DB_URL -u REINS_DB_USER -u REINS_DB_PASSWORD "${envs[@]}" \
    setsid "$DIST/bin/reins" serve >"$RESULTS/server-$MODE.log" 2>&1 </dev/null &
  SERVER_SID=$!
  wait_ready "$url" "$SERVER_SID" "$RESULTS/server-$MODE.log"
  api="$(token "$url" bench '["runs:read","runs:submit","runs:cancel"]')"
  operator="$(token "$url" operator '["admin","runs:read"]')"

  # 1. a run with many events
  log "$MODE: a run of $ATTEMPTS failing attempts"
  started=$(date +%s)
  run_id="$(curl -fsS -X POST -H "Authorization: Bearer $api" -H 'Content-Type: application/json' "$url/v1/runs" \
    -d "{\"executor\":{\"command\":[\"false\"],\"env\":{\"REINS_BENCH_TAG\":\"$TAG\"}},\"retry\":{\"maxAttempts\":$ATTEMPTS,\"backoffSeconds\":0}}" | jq -r .id)"
  while true; do
    state="$(curl -fsS -H "Authorization: Bearer $api" "$url/v1/runs/$run_id" | jq -r .state)"
    case "$state" in failed | succeeded | cancelled | timed_out) break ;; esac
    if [ $(($(date +%s) - started)) -ge 900 ]; then
      log "the many-event run is still $state after 900 s: measured as it is"
      break
    fi
    sleep 1
  done
  local run_events
  run_events="$(curl -fsS -H "Authorization: Bearer $api" "$url/v1/runs/$run_id/events" | jq length)"
  log "$MODE: run $run_id is $state with $run_events events after $(($(date +%s) - started)) s"

  # warm-up (not measured): health, a refused GET, a few feed pages
  if [ "$SERVER_WARMUP" != 0 ]; then
    wrk -t"$THREADS" -c"$CONNS" -d"$SERVER_WARMUP" --timeout 10s "$url/v1/health/live" >/dev/null 2>&1 || true
    env REINS_WRK_TOKEN="$api" wrk -t"$THREADS" -c"$CONNS" -d"$SERVER_WARMUP" --timeout 10s -s "$UNKNOWN_SCRIPT" "$url" >/dev/null 2>&1 || true
  fi

  # 2. the projection's lag under the submit load
  local lag_file="$RESULTS/lag-$MODE.txt" load_start load_end caught_up=""
  : >"$lag_file"
  wrk_run health "$url/v1/health/live" "$WRK_SCRIPT"
  sample_lag "$url" "$lag_file" &
  SAMPLER_PID=$!
  load_start=$(date +%s%3N)
  wrk_run submit "$url/v1/runs" "$WRK_SCRIPT" REINS_WRK_TOKEN="$api" REINS_WRK_METHOD=POST REINS_WRK_BODY="$SUBMIT_BODY"
  load_end=$(date +%s%3N)
  started=$(date +%s)
  while [ $(($(date +%s) - started)) -lt "$CATCHUP_TIMEOUT" ]; do
    if [ -s "$lag_file" ] && awk -v t="$load_end" '$1 > t && $2 == 0 { found = 1 } END { exit !found }' "$lag_file"; then
      caught_up="$(awk -v t="$load_end" '$1 > t && $2 == 0 { print $1; exit }' "$lag_file")"
      break
    fi
    sleep 1
  done
  stop_sampler
  awk -v s="$load_start" -v e="$load_end" -v c="${caught_up:-}" -v mode="$MODE" '
    $1 >= s && $1 <= e { n++; if ($2 > maxp) maxp = $2; if ($3 > maxl) maxl = $3; sump += $2 }
    $1 > e && $1 <= e + 1500 && !after_set { after_p = $2; after_l = $3; after_set = 1 }
    END {
      printf "{\"benchmark\":\"projection_lag\",\"mode\":\"%s\",\"samples_under_load\":%d,\"max_pending\":%d,\"mean_pending\":%.0f,\"max_lag_ms\":%d,", mode, n, maxp, (n ? sump / n : 0), maxl
      printf "\"pending_at_end\":%d,\"lag_ms_at_end\":%d,\"load_ms\":%d,\"catch_up_ms\":%s}\n", after_p, after_l, e - s, (c == "" ? "null" : c - e)
    }' "$lag_file" >>"$RESULT_LINES"
  log "$MODE: $(tail -n 1 "$RESULT_LINES")"

  # 3. the journal read back
  # PostgreSQL: the SELECTs interleaved with the API reads, round by round. H2: the API reads now,
  # the SELECTs once the server has stopped, on the file itself (embedded, as the server reads it):
  # through the auto-server's TCP port H2 fetches each payload BLOB in round trips of its own,
  # which measured 10x slower than the server's own reads and would flatter the feed.
  if [ "$MODE" = postgres ]; then
    if [ "$ANALYZE" = 1 ]; then
      # A fresh database's tables have no planner statistics until autovacuum gets to them; until
      # then eventsByTag's join is planned as a nested loop over event_tag, which costs the feed
      # more than 1 s a page at these sizes (AUDIT_ANALYZE=0 measures that state).
      psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -c 'ANALYZE event_journal, event_tag'
    fi
    read_back "$url" "$db_url" "$PG_USER" "$run_id" "$run_events" "$api" "$operator" sql_all,feed_operator,feed_tenant,sql_run,replay
  else
    read_back "$url" "" "" "$run_id" "$run_events" "$api" "$operator" feed_operator,feed_tenant,replay
  fi
  if [ "$MODE" = postgres ]; then
    local rows t0 t1 best=""
    rows="$(psql -X -qAt -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
      -c "SELECT count(*) FROM event_journal WHERE deleted = FALSE AND (persistence_id LIKE 'Run|%' OR persistence_id LIKE 'Delegation|%')")"
    for i in $(seq 1 "$ROUNDS"); do
      t0=$(date +%s%N)
      psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -c "\\copy (SELECT ordering, persistence_id, sequence_number, \
event_ser_id, event_ser_manifest, event_payload FROM event_journal WHERE deleted = FALSE \
AND (persistence_id LIKE 'Run|%' OR persistence_id LIKE 'Delegation|%') ORDER BY ordering) TO '/dev/null'"
      t1=$(date +%s%N)
      best="$(awk -v r="$rows" -v ns=$((t1 - t0)) -v b="${best:-0}" 'BEGIN { e = r / (ns / 1e9); printf "%.0f", (e > b ? e : b) }')"
    done
    printf '{"benchmark":"journal_read","figure":"sql_all_psql","mode":"postgres","events_per_read":%s,"best_eps":%s}\n' "$rows" "$best" >>"$RESULT_LINES"
    log "postgres: psql \\copy of the journal: $best rows/s (best of $ROUNDS)"
  fi

  # 4. unknown run ids
  wrk_run health_404 "$url/v1/health/live" "$WRK_SCRIPT"
  wrk_run unknown_run "$url" "$UNKNOWN_SCRIPT" REINS_WRK_TOKEN="$api"
  wrk_run health_end "$url/v1/health/live" "$WRK_SCRIPT"
  stop_server
  kill_tagged >/dev/null
  if [ "$MODE" = h2 ]; then
    read_back "" "jdbc:h2:file:$data/journal/reins" "" "$run_id" "$run_events" "" "" sql_all,sql_run
  fi
}

# read_back URL DB_URL DB_USER RUN_ID RUN_EVENTS API OPERATOR FIGURES: JournalReadBack, its result lines.
read_back() {
  local out="$RESULTS/read-$MODE-${8//,/-}.txt"
  log "$MODE: JournalReadBack $8, $ROUNDS rounds"
  REINS_BENCH_TOKEN="$6" REINS_BENCH_ADMIN_TOKEN="$7" "${JAVA_BENCH[@]}" dev.reins.bench.JournalReadBack --url "${1:-http://127.0.0.1:$HTTP_PORT}" \
    --db-url "$2" --db-user "$3" --run-id "$4" --figures "$8" --rounds "$ROUNDS" --replay-reads "$REPLAY_READS" >"$out" 2>"$out.err" ||
    log "JournalReadBack failed (see $out*)"
  cat "$out" >&2
  grep '^{"benchmark":' "$out" | jq -c --arg mode "$MODE" --arg run "$5" '. + {mode: $mode, run_events: ($run | tonumber)}' >>"$RESULT_LINES" || true
}

for m in "${MODES[@]}"; do
  single "$m"
done
LOAD_AFTER="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# --- report -----------------------------------------------------------------------------------
REV="$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')"
[ -z "$(git status --porcelain -- . ':!docs' 2>/dev/null | head -1)" ] || REV="$REV (with uncommitted changes)"
{
  printf '\n### %s — audit figures (%s)\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "${MODES[*]}"
  printf -- '- Machine: %s CPUs, %s GiB RAM, %s, %s\n' "$(nproc)" "$(free -g | awk '/^Mem:/ { print $2 }')" "$(uname -sr)" \
    "$(java -version 2>&1 | head -n 1)"
  printf -- '- Source: %s; command: `%s`\n' "$REV" "$CMD"
  printf -- '- Load average before: %s, after: %s (`uptime`; the machine is shared, so read the ratios)\n' "$LOAD_BEFORE" "$LOAD_AFTER"
  printf -- '- wrk: %s threads, %s connections, %s warm-up then %s measured; JournalReadBack: %s rounds (median and best reported)\n\n' \
    "$THREADS" "$CONNS" "$WARMUP" "$DURATION" "$ROUNDS"
  jq -rs '
    def r0: . * 1 | floor;
    def pct($a; $b): if $b > 0 then ($a / $b * 100) as $p | (if $p < 10 then "\($p * 10 | floor / 10) %" else "\($p | r0) %" end) else "–" end;
    group_by(.mode) | .[] | . as $m | ($m[0].mode) as $mode |
    ([$m[] | select(.benchmark == "journal_read")] | map({(.figure): .}) | add // {}) as $j |
    ([$m[] | select(.benchmark == "wrk")] | map({(.label): .}) | add // {}) as $w |
    ([$m[] | select(.benchmark == "projection_lag")][0]) as $lag |
    "#### \($mode)\n",
    "| read | events per read | pages | events/s (median of rounds) | best | median, of plain SQL |",
    "|---|---:|---:|---:|---:|---:|",
    ( ["sql_all", "sql_all_psql", "feed_operator", "feed_tenant", "sql_run", "replay"][] as $f | select($j[$f]) |
      (if ($f | startswith("sql_run")) or $f == "replay" then $j["sql_run"].median_eps else $j["sql_all"].median_eps end) as $base |
      "| `\($f)` | \($j[$f].events_per_read) | \($j[$f].pages_per_read // "–") | \($j[$f].median_eps // $j[$f].best_eps) | \($j[$f].best_eps) | \(if $f == "sql_all" or $f == "sql_run" or $base == null then "–" else pct($j[$f].median_eps // $j[$f].best_eps; $base) end) |" ),
    "",
    "| HTTP figure | req/s | p50 | p99 | of health (before it) | non-2xx | load (1 min) |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ( ["health", "submit", "health_404", "unknown_run", "health_end"][] as $l | select($w[$l]) |
      (if $l == "submit" then $w["health"] else $w["health_404"] end) as $ref |
      "| `\($l)` | \($w[$l].rps | r0) | \($w[$l].p50_us / 1000) ms | \($w[$l].p99_us / 1000) ms | \(if ($l | startswith("health")) then "–" else pct($w[$l].rps; $ref.rps) end) | \($w[$l].non_2xx_3xx) | \($w[$l].load1) |" ),
    "",
    (if $lag then "Run-list projection under the submit load (\($lag.load_ms / 1000 | r0) s of wrk, warm-up included, sampled every \("'"$LAG_INTERVAL"'") s: \($lag.samples_under_load) samples): pending events max \($lag.max_pending), mean \($lag.mean_pending); lag (oldest pending event) max \($lag.max_lag_ms) ms; right after the load \($lag.pending_at_end) pending, \($lag.lag_ms_at_end) ms; caught up (0 pending) \(if $lag.catch_up_ms == null then "not within the timeout" else "\($lag.catch_up_ms) ms after the load ended" end).\n" else empty end)
  ' "$RESULT_LINES"
  printf '<details><summary>Raw result lines</summary>\n\n```json\n'
  cat "$RESULT_LINES"
  printf '```\n\n</details>\n'
} >"$RESULTS/section.md"
if [ "${BENCH_NO_DOC:-0}" = 1 ]; then
  cat "$RESULTS/section.md"
else
  cat "$RESULTS/section.md" >>"$DOC"
  log "appended the results to ${DOC#"$ROOT"/}"
fi
