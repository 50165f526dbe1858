-- wrk script for the Reins benchmarks (bench/run.sh). Everything comes from the environment, so
-- that no token shows in a process list:
--
--   REINS_WRK_METHOD  GET (default) or POST
--   REINS_WRK_PATH    request path, e.g. /v1/runs (default: the path of wrk's URL)
--   REINS_WRK_BODY    request body (sent as application/json); none when unset
--   REINS_WRK_TOKEN   bearer token for the Authorization header; none when unset
--   REINS_WRK_PORTS   comma-separated ports on wrk's host: thread i connects to port i mod n,
--                     so one wrk process spreads its connections over several nodes
--                     (connections are split evenly over threads: use a multiple of n threads)
--   REINS_WRK_LABEL   a name for the result line
--
-- At the end it prints one line, `WRK_RESULT {json}`, with requests, duration, non-2xx/3xx
-- answers, socket errors and latency percentiles in microseconds.

local method = os.getenv("REINS_WRK_METHOD") or "GET"
local path = os.getenv("REINS_WRK_PATH")
local body = os.getenv("REINS_WRK_BODY")
local token = os.getenv("REINS_WRK_TOKEN")
local ports = os.getenv("REINS_WRK_PORTS")
local label = os.getenv("REINS_WRK_LABEL") or ""

wrk.method = method
if path and path ~= "" then
  wrk.path = path
end
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local threads = 0

function setup(thread)
  if ports and ports ~= "" then
    local list = {}
    for p in string.gmatch(ports, "[^,]+") do
      table.insert(list, p)
    end
    local port = list[(threads % #list) + 1]
    local addrs = wrk.lookup(wrk.host, port)
    thread.addr = addrs[1]
  end
  threads = threads + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"label":"%s","method":"%s","path":"%s","threads":%d,"requests":%d,"duration_us":%d,' ..
      '"rps":%.1f,"non_2xx_3xx":%d,"socket_errors":%d,"timeouts":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    label, method, wrk.path, threads, summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6), e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
