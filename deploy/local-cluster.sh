#!/usr/bin/env bash
# A Reins cluster on one machine: N nodes of the built distribution (deploy/target/reins, from
# ./mvnw -B -DskipTests package) on loopback ports, sharing one PostgreSQL journal.
#
#   deploy/local-cluster.sh start N --db-url URL [--dir DIR] [--base-http-port 8081]
#                                  [--base-remote-port 25521] [--slots K] [--timeout SECONDS]
#   deploy/local-cluster.sh stop [--dir DIR] [--timeout SECONDS]   SIGTERM (the nodes drain), KILL after the timeout
#   deploy/local-cluster.sh kill I [--dir DIR]                     SIGKILL node I (for failure tests)
#   deploy/local-cluster.sh restart I [--dir DIR] [--timeout SECONDS]
#   deploy/local-cluster.sh status [--dir DIR]
#
# Node i (1..N) serves HTTP on 127.0.0.1:<base-http-port + i - 1> and remoting on
# 127.0.0.1:<base-remote-port + i - 1>, keeps its data and server.log in DIR/node-i, and finds the
# cluster through the seeds, nodes 1..min(N,3). DIR defaults to deploy/target/local-cluster.
# Admin token: REINS_ADMIN_TOKEN if set, else one generated from /dev/urandom into DIR/admin.token
# (mode 0600) and given to every node. Every other REINS_* variable of the caller's environment
# (REINS_DB_USER, REINS_DB_PASSWORD, REINS_JAVA_OPTS, REINS_DRAIN_SECONDS, ...) reaches every node.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
dist=$here/target/reins
dir=$here/target/local-cluster
timeout=180

usage() {
  sed -n 's/^#   \(deploy\/local-cluster.sh\)/  \1/p' "$0" >&2
  exit 2
}

fail() {
  echo "local-cluster: $*" >&2
  exit 1
}

is_number() {
  case $1 in
    '' | *[!0-9]*) return 1 ;;
    *) return 0 ;;
  esac
}

# A node's process is alive: it exists, is not a zombie, and is a Reins server (a pid file can
# outlive its process, and the pid can be reused).
alive() {
  local pid=$1 stat
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'dev\.reins\.deploy\.Main' || return 1
  fi
  return 0
}

# A node that was just launched: alive, or still on its way from the launching subshell through
# nohup and bin/reins to the JVM (each an exec of the same pid; on a busy machine that takes a while).
launching() {
  local pid=$1 stat
  alive "$pid" && return 0
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/stat" ] || return 0
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'local-cluster\.sh\|nohup\|/bin/reins' || return 1
}

node_pid() {
  local file=$dir/node-$1/pid pid
  [ -f "$file" ] || return 1
  read -r pid <"$file" || return 1
  alive "$pid" || return 1
  echo "$pid"
}

node_count() {
  [ -f "$dir/nodes" ] || fail "no cluster in $dir (start one first)"
  cat "$dir/nodes"
}

# 1 2 ... N, one a line
all_nodes() {
  seq 1 "$(node_count)"
}

# A node number of the cluster in DIR, or the usage.
check_node() {
  if ! { is_number "$1" && [ "$1" -ge 1 ] && [ "$1" -le "$(node_count)" ]; }; then
    usage
  fi
}

# The value of KEY in node I's settings.
setting() {
  sed -n "s/^$2=//p" "$dir/node-$1/node.env"
}

ready() {
  local port=$1 status
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$port/v1/health/ready" 2>/dev/null
    return
  fi
  # bash's /dev/tcp: no curl needed
  exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
  printf 'GET /v1/health/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 3 _ status _ <&3 || status=
  exec 3<&-
  [ "$status" = 200 ]
}

admin_token() {
  if [ -n "${REINS_ADMIN_TOKEN:-}" ]; then
    printf '%s' "$REINS_ADMIN_TOKEN"
  elif [ -f "$dir/admin.token" ]; then
    cat "$dir/admin.token"
  else
    fail "no admin token: set REINS_ADMIN_TOKEN or start the cluster again"
  fi
}

# launch I TOKEN [rejoin]: rejoin (a restart into a running cluster) lists the node's own address
# last among the seeds. Pekko lets the first seed node form a new cluster by itself when no other
# seed answers within seed-node-timeout; a restarted first seed on a busy machine can miss that
# window and found a second cluster (which the journal lease then refuses). A node that is not
# the first seed only ever joins.
launch() {
  local i=$1 token=$2 mode=${3:-}
  local node=$dir/node-$i
  (
    while IFS= read -r line; do
      export "${line?}"
    done <"$node/node.env"
    if [ "$mode" = rejoin ]; then
      self=$REINS_REMOTE_HOST:$REINS_REMOTE_PORT
      others=$(printf '%s\n' "${REINS_SEED_NODES//,/$'\n'}" | grep -vxF "$self" | paste -sd, -)
      if [ -n "$others" ] && [ "$others" != "$REINS_SEED_NODES" ]; then
        export REINS_SEED_NODES=$others,$self
      fi
    fi
    REINS_ADMIN_TOKEN=$token exec nohup "$dist/bin/reins" serve >>"$node/server.log" 2>&1 </dev/null
  ) &
  echo $! >"$node/pid"
}

await_ready() {
  local i=$1 deadline=$2 port pid
  port=$(setting "$i" REINS_HTTP_PORT)
  read -r pid <"$dir/node-$i/pid"
  until ready "$port"; do
    if ! launching "$pid"; then
      echo "local-cluster: node $i exited before it was ready; the end of $dir/node-$i/server.log:" >&2
      tail -n 40 "$dir/node-$i/server.log" >&2 || true
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "local-cluster: node $i is not ready after ${timeout}s (log: $dir/node-$i/server.log)" >&2
      return 1
    fi
    sleep 0.5
  done
}

# Sends SIGTERM to the listed nodes and waits for them to exit (SIGKILL after the timeout).
terminate() {
  local deadline i pid pids=() left
  for i in "$@"; do
    if pid=$(node_pid "$i"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$i:$pid")
    fi
  done
  deadline=$(($(date +%s) + timeout))
  while :; do
    left=()
    for entry in ${pids[@]+"${pids[@]}"}; do
      alive "${entry#*:}" && left+=("$entry")
    done
    [ ${#left[@]} -eq 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      for entry in "${left[@]}"; do
        echo "local-cluster: node ${entry%%:*} did not stop within ${timeout}s: SIGKILL" >&2
        kill -KILL "${entry#*:}" 2>/dev/null || true
      done
      break
    fi
    sleep 0.2
  done
  for i in "$@"; do
    rm -f "$dir/node-$i/pid"
  done
  for entry in ${pids[@]+"${pids[@]}"}; do
    echo "node ${entry%%:*}: stopped (pid ${entry#*:})"
  done
}

describe() {
  local i=$1 state pid port
  port=$(setting "$i" REINS_HTTP_PORT)
  if pid=$(node_pid "$i"); then
    if ready "$port"; then state=ready; else state="not ready"; fi
    state="$state, pid $pid"
  else
    state=stopped
  fi
  echo "node $i: http://127.0.0.1:$port ($state; remoting 127.0.0.1:$(setting "$i" REINS_REMOTE_PORT), log $dir/node-$i/server.log)"
}

cmd_start() {
  local n=${1:-} db_url=${REINS_DB_URL:-} base_http=8081 base_remote=25521 slots='' i seeds='' token source
  [ $# -gt 0 ] && shift
  if ! { is_number "$n" && [ "$n" -ge 1 ]; }; then
    usage
  fi
  while [ $# -gt 0 ]; do
    case $1 in
      --db-url) db_url=${2:?--db-url needs a URL}; shift 2 ;;
      --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
      --base-http-port) base_http=${2:-}; shift 2 ;;
      --base-remote-port) base_remote=${2:-}; shift 2 ;;
      --slots) slots=${2:-}; shift 2 ;;
      --timeout) timeout=${2:-}; shift 2 ;;
      *) usage ;;
    esac
  done
  if ! { is_number "$base_http" && is_number "$base_remote" && is_number "$timeout"; }; then
    usage
  fi
  [ -z "$slots" ] || is_number "$slots" || usage
  case $db_url in
    jdbc:postgresql:*) ;;
    *) fail "--db-url must be a jdbc:postgresql: URL (a cluster shares one PostgreSQL journal)" ;;
  esac
  case $db_url in *$'\n'*) fail "--db-url must be one line" ;; esac
  [ -x "$dist/bin/reins" ] || fail "no distribution in $dist: build it with ./mvnw -B -DskipTests package"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  chmod 700 "$dir"
  if [ -f "$dir/nodes" ]; then
    for ((i = 1; i <= $(cat "$dir/nodes"); i++)); do
      ! node_pid "$i" >/dev/null || fail "node $i of a cluster in $dir still runs: stop it first (local-cluster.sh stop --dir $dir)"
    done
  fi

  if [ -n "${REINS_ADMIN_TOKEN:-}" ]; then
    token=$REINS_ADMIN_TOKEN
    source="REINS_ADMIN_TOKEN (from your environment)"
  else
    if [ ! -s "$dir/admin.token" ]; then
      token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
      [ ${#token} -eq 64 ] || fail "could not read 32 random bytes from /dev/urandom"
      (umask 077 && printf '%s\n' "$token" >"$dir/admin.token")
    fi
    token=$(cat "$dir/admin.token")
    source="$dir/admin.token"
  fi

  for ((i = 1; i <= n && i <= 3; i++)); do
    seeds=$seeds${seeds:+,}127.0.0.1:$((base_remote + i - 1))
  done
  echo "$n" >"$dir/nodes"
  for ((i = 1; i <= n; i++)); do
    mkdir -p "$dir/node-$i"
    {
      echo "REINS_DATA_DIR=$dir/node-$i"
      echo "REINS_DB_URL=$db_url"
      echo "REINS_HTTP_HOST=127.0.0.1"
      echo "REINS_HTTP_PORT=$((base_http + i - 1))"
      echo "REINS_REMOTE_HOST=127.0.0.1"
      echo "REINS_REMOTE_PORT=$((base_remote + i - 1))"
      echo "REINS_SEED_NODES=$seeds"
      [ -z "$slots" ] || echo "REINS_WORKER_SLOTS=$slots"
    } >"$dir/node-$i/node.env"
    launch "$i" "$token"
  done
  local deadline=$(($(date +%s) + timeout)) failed=0
  for ((i = 1; i <= n; i++)); do
    await_ready "$i" "$deadline" || failed=1
  done
  if [ $failed -ne 0 ]; then
    echo "local-cluster: stopping the nodes" >&2
    timeout=30
    mapfile -t nodes < <(all_nodes)
    terminate "${nodes[@]}"
    exit 1
  fi
  for ((i = 1; i <= n; i++)); do
    describe "$i"
  done
  echo "admin token: $source"
  echo "stop with: $0 stop --dir $dir"
}

cmd_stop() {
  timeout=150
  parse_options "$@"
  mapfile -t nodes < <(all_nodes)
  terminate "${nodes[@]}"
}

cmd_kill() {
  local i=${1:-} pid
  [ $# -gt 0 ] && shift
  parse_options "$@"
  check_node "$i"
  pid=$(node_pid "$i") || fail "node $i does not run"
  kill -KILL "$pid"
  for _ in $(seq 1 100); do
    alive "$pid" || break
    sleep 0.1
  done
  ! alive "$pid" || fail "node $i (pid $pid) survived SIGKILL"
  rm -f "$dir/node-$i/pid"
  echo "node $i: killed (pid $pid)"
}

cmd_restart() {
  local i=${1:-}
  [ $# -gt 0 ] && shift
  parse_options "$@"
  check_node "$i"
  terminate "$i"
  launch "$i" "$(admin_token)" rejoin
  await_ready "$i" $(($(date +%s) + timeout)) || exit 1
  describe "$i"
}

cmd_status() {
  parse_options "$@"
  for i in $(all_nodes); do
    describe "$i"
  done
}

# --dir DIR and --timeout SECONDS of the commands after start
parse_options() {
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
      --timeout) timeout=${2:-}; shift 2 ;;
      *) usage ;;
    esac
  done
  is_number "$timeout" || usage
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) cmd_kill "$@" ;;
  restart) cmd_restart "$@" ;;
  status) cmd_status "$@" ;;
  *) usage ;;
esac
