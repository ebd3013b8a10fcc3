-- The one wrk script of every HTTP measure (bench/wrk.py), the same for every server:
--   wrk -s bench/wrk.lua URL -- METHOD PATH STATUS [BODY]
-- sends METHOD PATH (with BODY as JSON, e.g. a create) over and over on each connection, counts
-- the answers whose status is not STATUS, and prints one line of JSON at the end.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local method, path, body = args[1], args[2], args[4]
  expected = tonumber(args[3])
  unexpected = 0
  local headers = {["Content-Type"] = "application/json"}
  -- Formatted once: every request of the run is the same bytes.
  prepared = wrk.format(method, path, headers, body)
end

function request()
  return prepared
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local unexpected_total = 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + thread:get("unexpected")
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "unexpected_status": %d, "socket_errors": %d, '
      .. '"latency_us": {"p50": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
    summary.requests, summary.duration, unexpected_total,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max
  ))
end
