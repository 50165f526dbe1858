#!/usr/bin/env bash
# Turns the result lines of bench/run.sh (one JSON object a line) into the Markdown section it
# appends to docs/benchmarks.md. Called by bench/run.sh; the context (command, revision, load)
# comes in environment variables.
#
#   bench/report.sh RESULTS.jsonl
set -euo pipefail
LINES=$1

q() { jq -rs "$@" "$LINES"; }

echo
echo "### $(date -u '+%Y-%m-%d %H:%M UTC')${STARTED:+ (started ${STARTED})} — wrk harness: $(q '[.[].mode] | unique | map(select(. != "jvm")) | join(", ")')"
echo
echo "- Machine: $(nproc) cores (\`nproc\`), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM (\`free -g\` total), $(uname -sr), $(java -version 2>&1 | head -n 1); load generator and servers share it."
echo "- Source: ${REV}; command: \`${BENCH_CMD}\`"
echo "- Load generator: \`wrk\` $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }') with \`bench/wrk/reins.lua\`; one server: ${THREADS} threads, ${CONNS} connections; three nodes: ${CTHREADS} threads, ${CCONNS} connections (both cluster figures); each figure a ${WARMUP} warm-up run (thrown away), then ${DURATION} measured."
echo "- Tenant limits off (\`REINS_TENANT_SUBMITS_PER_SECOND=0\`, \`REINS_TENANT_MAX_ACTIVE_RUNS=0\`); \`POST /v1/runs\` submits \`sleep 3600\` (8 slots busy, the rest queued: accepting and journaling, not spawning)."
[ -z "${PLOT:-}" ] || echo "- Plot: [${PLOT}](${PLOT}) (rates as ratios to the same-run health reference; cancel-to-TERM; failover rounds)."
echo "- Other load on the machine before the start (3 s sample): ${BACKGROUND} of $(nproc) cores busy; load average before: ${LOAD_BEFORE}, after: ${LOAD_AFTER}."
echo

# the wrk table of one mode, each row against that mode's health reference
wrk_table() { # MODE REFERENCE-LABEL
  local rows
  rows="$(q --arg m "$1" --arg ref "$2" '
    (map(select(.benchmark == "wrk" and .mode == $m and .label == $ref)) | first | .rps) as $h
    | map(select(.benchmark == "wrk" and .mode == $m))
    | .[]
    | "| \(.label) | `\(.method) \(.path | sub("/v1/runs/[0-9a-f-]{36}$"; "/v1/runs/{id}"))` | \(.rps | floor) | \(if $h then ((.rps / $h * 1000 | round) / 1000 | tostring) else "–" end) | \(.p50_us / 1000) | \(.p99_us / 1000) | \(.max_us / 1000) | \(.non_2xx_3xx) | \(.socket_errors + .timeouts) |"')"
  [ -n "$rows" ] || return 0
  echo "| figure | request | req/s | ratio to \`$2\` | p50 ms | p99 ms | max ms | non-2xx | socket errors + timeouts |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "$rows"
  echo
}

cancel_table() { # MODE
  local rows
  rows="$(q --arg m "$1" '
    map(select(.benchmark == "cancel_latency" and .mode == $m)) | .[]
    | . as $r
    | [["cancel-to-TERM (trap ran)", .cancel_to_term], ["cancel-to-TERM, submit/worker/cancel on 3 different nodes", .cancel_to_term_three_nodes],
       ["cancel-to-gone (process exited)", .cancel_to_gone], ["cancel-to-terminal (API state)", .cancel_to_terminal],
       ["submit-to-running (context)", .submit_to_running]]
    | map(select(.[1] != null and .[1].count > 0))
    | .[]
    | "| \(.[0]) | \(.[1].p50_ms) | \(.[1].p90_ms) | \(.[1].p99_ms) | \(.[1].max_ms) | \(.[1].count) |"')"
  [ -n "$rows" ] || return 0
  echo "| cancel latency | p50 ms | p90 ms | p99 ms | max ms | n |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "$rows"
  q --arg m "$1" -r 'map(select(.benchmark == "cancel_latency" and .mode == $m)) | .[]
    | "\nCancel answers \(.cancel_statuses | tojson), final states \(.final_states | tojson), failed iterations \(.failed_iterations), TERM marker missing \(.term_marker_missing)\(if .routes then "; routes (submit node > worker node > cancel node): \(.routes | tojson)" else "" end)."'
  echo
}

for m in h2 postgres baseline; do
  if [ "$(q --arg m "$m" 'map(select(.mode == $m)) | length')" -gt 0 ]; then
    case $m in
      h2) echo "#### One server, H2" ;;
      postgres) echo "#### One server, PostgreSQL" ;;
      baseline) echo "#### Baseline: revision ${BASELINE} (before authentication), one server, PostgreSQL, same run" ;;
    esac
    echo
    wrk_table "$m" health
    if [ "$m" != baseline ]; then
      q --arg m "$m" --argjson n "$(nproc)" -r '
        map(select(.benchmark == "wrk" and .mode == $m)) | map({(.label): .rps}) | add as $r
        | if $r.refused_no_token and $r.refused_api_token and $r.refused_run_token then
            "Token check through HTTP (`GET /v1/runs/x` is refused after the token check, before any run is asked): machine time per request (`nproc` / rate): no token \(($n * 1e6 / $r.refused_no_token * 10 | round) / 10) µs, API token \(($n * 1e6 / $r.refused_api_token * 10 | round) / 10) µs (+\((($n * 1e6 / $r.refused_api_token - $n * 1e6 / $r.refused_no_token) * 10 | round) / 10)), per-run token \(($n * 1e6 / $r.refused_run_token * 10 | round) / 10) µs (+\((($n * 1e6 / $r.refused_run_token - $n * 1e6 / $r.refused_no_token) * 10 | round) / 10)). Reading a run (`GET /v1/runs/{id}`): per-run token / API token = \(if $r.get_run_run_token and $r.get_run_api_token then (($r.get_run_run_token / $r.get_run_api_token * 1000 | round) / 1000 | tostring) else "–" end) in rate.\n"
          else empty end'
      cancel_table "$m"
    fi
  fi
done

if [ "$(q 'map(select(.mode == "cluster")) | length')" -gt 0 ]; then
  echo "#### Three nodes (deploy/local-cluster.sh), PostgreSQL"
  echo
  wrk_table cluster health_node1
  q -r 'map(select(.benchmark == "wrk" and .mode == "cluster")) | map({(.label): .rps}) | add as $r
    | if $r.submit_node1 and $r.submit_3_nodes then "Submits through three nodes / through one node of the same cluster: \(($r.submit_3_nodes / $r.submit_node1 * 1000 | round) / 1000); health likewise: \(if $r.health_3_nodes and $r.health_node1 then (($r.health_3_nodes / $r.health_node1 * 1000 | round) / 1000 | tostring) else "–" end).\n" else empty end'
  cancel_table cluster
  rows="$(q 'map(select(.benchmark == "failover")) | to_entries | .[]
    | "| \(.key + 1) | node \(.value.killed_node) | \(.value.runs_on_killed_node) of \(.value.runs) | \(.value.all_old_processes_gone_s) | \(.value.all_attempts_ended_s) | \(if .value.all_running_again_s < 0 then "**not all** (\(.value.not_running_again) left)" else (.value.all_running_again_s | tostring) end) |"')"
  if [ -n "$rows" ]; then
    echo "| SIGKILL round | killed | its runs | all old processes gone, s | all killed attempts ended (API), s | all running again elsewhere, s |"
    echo "|---|---|---|---:|---:|---:|"
    echo "$rows"
    echo
  fi
fi

q -r 'map(select(.benchmark == "token_check_cost")) | .[]
  | "#### Token check in process (`TokenCheckCost`, one thread, no HTTP)\n\n| check | ns per call |\n|---|---:|\n| per-run token: `RunTokens.verify` (JWT HS256, \(.jwt_length) chars) | \(.jwt_verify_ns) |\n| the same JWT with one `MACVerifier` kept per key (not what the server does; for comparison) | \(.jwt_verify_reused_verifier_ns // "–") |\n| API token, cache hit: SHA-256 + map lookup | \(.api_token_cached_ns) |\n"'

echo "<details><summary>Raw result lines</summary>"
echo
echo '```json'
jq -c 'del(.options, .per_run)' "$LINES"
echo '```'
echo
echo "</details>"
