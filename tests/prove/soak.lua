-- The soak's request mix for wrk: every route family in one rotation of 40 requests.
-- Files and the key are put in by tests/prove/test_memory.py (the __NAMES__ below).
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local found = {}
  for line in io.lines(path) do found[#found + 1] = line end
  return found
end

local auth = "Bearer __KEY__"
local json = "application/json"

function init(args)
  statuses = {}
  n = tid * 7919
  addresses = lines("__ADDRESSES__")
  unknown = lines("__UNKNOWN__")
  people = lines("__PEOPLE__")
  tokens = lines("__TOKENS__")
  local f = assert(io.open("__BULK__", "rb"))
  bulk = f:read("*a")
  f:close()
  api = {["Authorization"] = auth, ["Content-Type"] = json}
  anonymous = {["Content-Type"] = json}
  forged = {["Authorization"] = "Bearer not-a-key-" .. tid, ["Content-Type"] = json}
  form = {["Content-Type"] = "application/x-www-form-urlencoded"}
end

local function pick(list) return list[n % #list + 1] end

local function check(to)
  return '{"purpose":"marketing","channel":"email","to":"' .. to .. '"}'
end

local withdrawal = '{"choices":[{"purpose":"marketing","channel":"sms","decision":"withdrawn"}],'
  .. '"source":"web_form"}'

local function registration()
  return '{"person":{"reference":"soak-__RUN__-' .. tid .. '-' .. n .. '","contacts":[{"kind":"email",'
    .. '"value":"soak.__RUN__.' .. tid .. '.' .. n .. '@example.org"}]},"choices":[{"purpose":'
    .. '"marketing","channel":"email","decision":"granted","affirmative_action":"ticked_box",'
    .. '"pre_ticked":false,"notice":{"purpose":"marketing","version":1}}],"source":"web_form"}'
end

-- slot -> request; 40 slots, so each family's share is its count in 40.
local mix = {
  function() return wrk.format("GET", "/health/live") end,                              -- 7 health
  function() return wrk.format("GET", "/health/live") end,
  function() return wrk.format("GET", "/health/live") end,
  function() return wrk.format("GET", "/health/live") end,
  function() return wrk.format("GET", "/health/live") end,
  function() return wrk.format("GET", "/health/live") end,
  function() return wrk.format("GET", "/health/ready") end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,  -- 12 checks
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(addresses))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(unknown))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(unknown))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(unknown))) end,
  function() return wrk.format("POST", "/v1/checks", api, check(pick(unknown))) end,
  function() return wrk.format("POST", "/v1/checks/bulk", api, bulk) end,               -- 2 bulk
  function() return wrk.format("POST", "/v1/checks/bulk", api, bulk) end,
  function() return wrk.format("POST", "/v1/registrations", api, registration()) end,   -- 3 writes
  function() return wrk.format("POST", "/v1/people/" .. pick(people) .. "/consents", api, withdrawal) end,
  function() return wrk.format("POST", pick(tokens), form, "List-Unsubscribe=One-Click") end,
  function() return wrk.format("GET", "/v1/people/" .. pick(people), api) end,          -- 1 staff read
  function() return wrk.format("GET", pick(tokens)) end,                                 -- 3 pages
  function() return wrk.format("GET", (string.gsub(pick(tokens), "unsubscribe", "preferences"))) end,
  function() return wrk.format("GET", "/staff/sign-in") end,
  function() return wrk.format("POST", "/v1/checks", api, '{"purpose":5}') end,         -- 4 refused
  function() return wrk.format("POST", "/v1/checks", api, '{"purpose":"marketing","to":') end,
  function() return wrk.format("POST", "/v1/checks", api, check("not an address " .. n)) end,
  function() return wrk.format("POST", "/v1/registrations", api, '{"person":{},"choices":"all"}') end,
  function() return wrk.format("GET", "/no-such-page/" .. n) end,                        -- 3 unknown
  function() return wrk.format("POST", "/v1/no-such-route/" .. n, api, "{}") end,
  function() return wrk.format("GET", "/unsubscribe/v1.forged." .. n) end,
  function() return wrk.format("POST", "/v1/checks", anonymous, check(pick(addresses))) end, -- 3 no key
  function() return wrk.format("POST", "/v1/checks", forged, check(pick(addresses))) end,
  function() return wrk.format("GET", "/v1/people/" .. pick(people), anonymous) end,
  function() return wrk.format("GET", "/metrics") end,                                   -- 2 operations
  function() return wrk.format("GET", "/docs/openapi.json") end,
}

function request()
  n = n + 1
  return mix[n % #mix + 1]()
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

local function statuses_json()
  local merged = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SOAK_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
    .. '"timeout":%d},"latency_ms":{"p50":%.2f,"p99":%.2f,"max":%.2f},"statuses":%s}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, statuses_json()))
end
