-- wrk: every request carries a session id from a pool of 1000, so a balancer that routes by
-- session spreads them over the backends (wrk alone repeats one request).
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", "/?session_id=s" .. (n % 1000))
end
