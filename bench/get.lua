-- GET the path in BENCH_PATH with the bearer token in TOKEN.
local token = os.getenv("TOKEN")
local path = os.getenv("BENCH_PATH")

request = function()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
