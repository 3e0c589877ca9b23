#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Requests/s and CPU per 1,000 requests with a new connection per request: direct to one backend,
# limpet (token VIP, ip-hash VIP) and HAProxy (balance url_param session_id + hash-type
# consistent, as the field configures it), on the same namespace testbed, rounds interleaved.
#   rps.sh [SECONDS [ROUNDS]]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TB=lprps
. "$ROOT/tools/testbed.sh"
SECS=${1:-8}
ROUNDS=${2:-3}
trap 'pkill -F "$TB_DIR/haproxy.pid" 2>/dev/null; tb_cleanup' EXIT
TB_QUIET=1 tb_setup 3 32 || exit 1
tb_in cli sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
tb_attach || exit 1
limpetctl vip add 203.0.113.50:80/tcp policy token token query session_id
limpetctl vip add 203.0.113.51:80/tcp policy ip-hash
for v in 50 51; do for b in 1 2 3; do limpetctl backend add 203.0.113.$v:80/tcp "$(tb_backend4 $b)"; done; done
# HAProxy listens on an address of the limpet namespace; limpet passes that traffic to the kernel
tb_in lb ip addr add 203.0.113.60/32 dev lo
cat >"$TB_DIR/haproxy.cfg" <<CFG
global
	maxconn 4000
	pidfile $TB_DIR/haproxy.pid
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 203.0.113.60:80
	default_backend be
backend be
	balance url_param session_id
	hash-type consistent
	server be1 10.99.0.1:80 id 1
	server be2 10.99.0.2:80 id 2
	server be3 10.99.0.3:80 id 3
CFG
tb_in lb haproxy -D -f "$TB_DIR/haproxy.cfg" || exit 1

cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; } # user nice system irq softirq
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
run() { # URL SRC_INDEX -> "requests/s cpu_ticks_per_1k haproxy_ticks_per_1k"
	local c0 c1 h0 h1 out rps reqs hp
	hp=$(cat "$TB_DIR/haproxy.pid")
	# wrk cannot bind a source: the route's src does. A fresh client address per run keeps a
	# run's connections from meeting TIME_WAIT sockets an earlier run left on the backends.
	tb_in cli ip route replace default via 198.18.255.254 src "$(tb_client4 "$2")"
	c0=$(cpu_busy); h0=$(proc_cpu "$hp")
	out=$(tb_in cli wrk -t2 -c32 -d"${SECS}s" -H 'Connection: close' -s "$ROOT/tools/bench/sid.lua" "$1" 2>&1)
	c1=$(cpu_busy); h1=$(proc_cpu "$hp")
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then echo "0 0 0"; return; fi
	echo "$rps $(( (c1 - c0) * 1000000 / reqs )) $(( (h1 - h0) * 1000000 / reqs ))"
}
paths=("direct to one backend|http://10.99.0.1/"
	"limpet token VIP (session_id, delayed binding)|http://203.0.113.50/"
	"limpet ip-hash VIP|http://203.0.113.51/"
	"HAProxy 2.6 balance url_param session_id + hash-type consistent|http://203.0.113.60/")
declare -A R C H
for r in $(seq "$ROUNDS"); do
	for i in "${!paths[@]}"; do
		read -r a b c <<<"$(run "${paths[$i]#*|}" $((r * 4 + i)))"
		R[$i]+="$a " C[$i]+="$b " H[$i]+="$c "
	done
done
med() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)] + 0}'; }
d=$(med "${R[0]}")
dc=$(med "${C[0]}")
echo "| path | requests/s (median of $ROUNDS × ${SECS} s) | × direct | machine CPU ms per 1k requests | balancer CPU ms per 1k (machine − direct) |"
echo "|---|---:|---:|---:|---:|"
for i in "${!paths[@]}"; do
	rps=$(med "${R[$i]}")
	cpu=$(med "${C[$i]}")
	awk -v n="${paths[$i]%%|*}" -v r="$rps" -v d="$d" -v c="$cpu" -v dc="$dc" -v hz="$hz" -v i="$i" 'BEGIN {
		ms = c / hz; dms = dc / hz
		printf "| %s | %.0f | %.2f | %.1f | %s |\n", n, r, (d > 0 ? r / d : 0), ms, (i ? sprintf("%.1f", ms - dms) : "-") }'
done
echo
echo "HAProxy's own process CPU: $(med "${H[3]}" | awk -v hz="$hz" '{printf "%.1f", $1 / hz}') ms per 1k requests."
