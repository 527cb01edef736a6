-- wrk script for scripts/bench.py: cycles through the request paths listed in a file (the argument after
-- `--`), or repeats the URL's own path without one; prints the summary as one JSON line.
local paths = {}
local counter = 0

init = function(args)
  if args[1] then
    for line in io.lines(args[1]) do
      paths[#paths + 1] = line
    end
  end
end

request = function()
  if #paths == 0 then
    return wrk.format()
  end
  counter = counter + 1
  return wrk.format(nil, paths[counter % #paths + 1])
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'JSON {"rps": %f, "p50_ms": %f, "p99_ms": %f, "errors": %d, "non2xx": %d, "requests": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors, summary.errors.status, summary.requests))
end
