-- POST correct logins, spreading them over the accounts named in EMAILS
-- (comma-separated): argon2 dominates. One account from one address would
-- soon be throttled, since in-flight attempts count until they succeed.
local emails = {}
for email in string.gmatch(os.getenv("EMAILS") or "", "[^,]+") do
  emails[#emails + 1] = email
end
local password = os.getenv("PASSWORD")
local n = 0

function setup(thread)
  thread:set("offset", math.random(0, 1000))
end

request = function()
  n = n + 1
  local email = emails[((n + (offset or 0)) % #emails) + 1]
  local body = string.format('{"email":"%s","password":"%s"}', email, password)
  return wrk.format("POST", "/v1/auth/login", { ["Content-Type"] = "application/json" }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
