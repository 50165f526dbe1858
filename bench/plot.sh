#!/usr/bin/env bash
# Draws the figures of one bench/run.sh invocation as a PNG (gnuplot, Debian package
# `gnuplot-nox`): left, each wrk figure's rate as a ratio to its same-run health reference, per
# mode (log scale: submits are two orders of magnitude under health); right, cancel-to-TERM p50/p99 per mode and the failover rounds.
#
#   bench/plot.sh RESULTS.jsonl OUT.png
set -euo pipefail
LINES=$1
OUT=$2
command -v gnuplot >/dev/null || { echo "plot: gnuplot is missing (apt-get install -y gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "mode/label ratio rps" for every wrk figure except the references themselves
jq -rs '
  (map(select(.benchmark == "wrk" and (.label == "health" or .label == "health_node1" or .label == "health_3_nodes"))) | map({key: (.mode + (if .label == "health_3_nodes" then "3" else "" end)), value: .rps}) | from_entries) as $ref
  | map(select(.benchmark == "wrk" and (.label | startswith("health") | not)))
  | .[]
  | ($ref[.mode + (if .label == "submit_3_nodes" then "3" else "" end)]) as $h
  | "\"\(.mode) \(.label | gsub("_"; " "))\" \(if $h then .rps / $h else 0 end) \(.rps)"' "$LINES" >"$tmp/ratios.dat"

# "label p50 p99" in ms
jq -rs '
  map(select(.benchmark == "cancel_latency")) | .[]
  | "\"\(.mode) cancel-to-TERM\" \(.cancel_to_term.p50_ms) \(.cancel_to_term.p99_ms)"' "$LINES" >"$tmp/cancel.dat"
jq -rs '
  map(select(.benchmark == "failover")) | to_entries | .[]
  | "\"SIGKILL round \(.key + 1)\" \(.value.all_attempts_ended_s) \(.value.all_running_again_s)"' "$LINES" >"$tmp/failover.dat"

{
  echo "set terminal pngcairo size 1500,560 font 'sans,10'"
  echo "set output '$OUT'"
  echo "set multiplot layout 1,3 title 'Reins bench/run.sh: $(date -u '+%Y-%m-%d')'"
  echo "set style data histograms; set style fill solid 0.8 border -1; set boxwidth 0.8"
  echo "set xtics rotate by -40 left noenhanced; set grid ytics; set key off; set bmargin 10"
  echo "set title 'rate / same-run GET /v1/health/live (log scale)'"
  echo "set logscale y; set yrange [0.0005:5]"
  echo "plot '$tmp/ratios.dat' using 2:xtic(1) lc rgb '#4472c4'"
  echo "unset logscale y; set yrange [0:*]"
  echo "set key top left noenhanced reverse Left"
  echo "set title 'cancel request -> TERM (ms)'"
  echo "plot '$tmp/cancel.dat' using 2:xtic(1) title 'p50' lc rgb '#70ad47', '' using 3 title 'p99' lc rgb '#ed7d31'"
  echo "set title 'after SIGKILL of a node (s)'"
  if [ -s "$tmp/failover.dat" ]; then
    echo "plot '$tmp/failover.dat' using 2:xtic(1) title 'its attempts ended (API)' lc rgb '#a5a5a5', '' using 3 title 'all running again elsewhere' lc rgb '#c00000'"
  else
    echo "unset key; plot 0 notitle"
  fi
  echo "unset multiplot"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
