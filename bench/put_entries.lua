-- PUT a new pain entry under a fresh client-chosen UUID on every request.
local token = os.getenv("TOKEN")
local counter = 0
local thread_tag = string.format("%04x", math.random(0, 0xffff))

local function uuid()
  counter = counter + 1
  return string.format("%08x-%s-4%03x-8%03x-%012x",
    math.random(0, 0x7fffffff), thread_tag, math.random(0, 0xfff), math.random(0, 0xfff), counter)
end

function setup(thread)
  thread:set("seed", math.random(1, 2^31 - 1))
end

function init(args)
  math.randomseed(seed or os.time())
  thread_tag = string.format("%04x", math.random(0, 0xffff))
end

request = function()
  local day = 1 + (counter % 28)
  local body = string.format(
    '{"date":"2026-10-%02d","pain_level":%d,"regions":["lower_back_left"],"notes":"bench"}',
    day, counter % 11)
  return wrk.format("PUT", "/v1/me/pain-entries/" .. uuid(), {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
