-- wrk: each connection cycles through what the dashboard and a monitoring system ask for.
local paths = {"/api/v1/status", "/api/v1/sets/app", "/api/v1/sets/app/runs",
               "/api/v1/sets/app/jobs/1", "/metrics", "/healthz", "/"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1])
end
