-- wrk script for bench/audit.sh: GET /v1/runs/<a fresh random UUID> on every request, so that no
-- answer can come from a cache of known ids: each is a lookup of a run that does not exist (404).
--
--   REINS_WRK_TOKEN   bearer token for the Authorization header (from the environment, so that
--                     it does not show in a process list)
--   REINS_WRK_SUFFIX  appended to the path, e.g. /events (default: none)
--   REINS_WRK_LABEL   a name for the result line
--
-- At the end it prints one line, `WRK_RESULT {json}`, in the format of bench/wrk/reins.lua.

local token = os.getenv("REINS_WRK_TOKEN")
local suffix = os.getenv("REINS_WRK_SUFFIX") or ""
local label = os.getenv("REINS_WRK_LABEL") or ""
local headers = {}
if token and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end

local threads = 0
function setup(thread)
  thread:set("seed", threads * 7919 + os.time())
  threads = threads + 1
end

function init(args)
  math.randomseed(seed)
end

local function hex(n)
  local t = {}
  for i = 1, n do
    t[i] = string.format("%x", math.random(0, 15))
  end
  return table.concat(t)
end

function request()
  -- a version-4 UUID: 8-4-4-4-12 hex digits, "4" and one of 8, 9, a, b in place
  local id = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. string.format("%x", math.random(8, 11)) .. hex(3) .. "-" .. hex(12)
  return wrk.format("GET", "/v1/runs/" .. id .. suffix, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"label":"%s","method":"GET","path":"/v1/runs/<random uuid>%s","threads":%d,"requests":%d,"duration_us":%d,' ..
      '"rps":%.1f,"non_2xx_3xx":%d,"socket_errors":%d,"timeouts":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    label, suffix, threads, summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6), e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
