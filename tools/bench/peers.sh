#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet beside the balancers the field would pick, on one namespace testbed and one load:
#   direct to one backend (no balancer), direct to all three (the client spreads its own
#   connections: what spreading costs the backends, without a balancer), limpet ip-hash, limpet token, nftables DNAT jhash,
#   HAProxy balance url_param / source + hash-type consistent, NGINX hash $remote_addr
#   consistent (http and stream).
#
#   peers.sh [SECONDS [ROUNDS [SESSIONS [CONNS]]]]
#
# Performance: ROUNDS rounds, each running every balancer once (the order rotates per round),
# wrk for SECONDS in keep-alive mode and with a new connection per request. Session figures
# (once per balancer; they are deterministic): SESSIONS sessions x CONNS new connections,
# the same session ids from new addresses, WebSocket connections kept open while a fourth
# backend is added, then one backend removed. Raw results go to $OUT (default build/bench):
# results.tsv, sessions/*.json, meta; tools/bench/report.py turns them into the report.
# BALANCERS / SESSION_BALANCERS (space-separated keys below) restrict what runs.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TB=${TB:-lpbench}
. "$ROOT/tools/testbed.sh"
SECS=${1:-8}
ROUNDS=${2:-3}
NSESS=${3:-200}
CONNS=${4:-10}
WRK_CONNS=${WRK_CONNS:-200}
WS_N=${WS_N:-20}
WS_SECS=${WS_SECS:-6}
OUT=${OUT:-$ROOT/build/bench}
BALANCERS=${BALANCERS:-direct direct-3 limpet-ip limpet-token nft haproxy-url haproxy-src nginx-http nginx-stream}
SESSION_BALANCERS=${SESSION_BALANCERS:-limpet-ip limpet-token nft haproxy-url haproxy-url-defid haproxy-src haproxy-src-defid nginx-http nginx-stream}
LB_DIR=

cleanup() {
	[ -n "$LB_DIR" ] && [ -f "$LB_DIR/haproxy.pid" ] && pkill -F "$LB_DIR/haproxy.pid" 2>/dev/null
	[ -n "$LB_DIR" ] && [ -f "$LB_DIR/nginx.pid" ] && pkill -F "$LB_DIR/nginx.pid" 2>/dev/null
	tb_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A HOST=([direct]=10.99.0.1 [direct-3]=10.99.0.1 [limpet-token]=203.0.113.50 [limpet-ip]=203.0.113.51
	[nft]=203.0.113.52 [haproxy-url]=203.0.113.60 [haproxy-src]=203.0.113.61
	[nginx-http]=203.0.113.62 [nginx-stream]=203.0.113.63 [haproxy-url-defid]=203.0.113.64
	[haproxy-src-defid]=203.0.113.65)
for k in $BALANCERS $SESSION_BALANCERS; do
	[ -n "${HOST[$k]:-}" ] || { echo "peers.sh: unknown balancer '$k' (known: ${!HOST[*]})" >&2; exit 2; }
done
POOL="1 2 3" # backends in every balancer's pool

# ---- the balancers ----------------------------------------------------------------------

nft_apply() { # the whole table replaced in one transaction (existing connections keep their NAT)
	local map="" i=0 b
	for b in $POOL; do map+="${map:+, }$i : $(tb_backend4 "$b")"; i=$((i + 1)); done
	tb_in lb nft -f - <<NFT
table ip limpetbench {}
delete table ip limpetbench
table ip limpetbench {
	chain pre {
		type nat hook prerouting priority dstnat;
		ip daddr ${HOST[nft]} tcp dport { 80, 8080 } dnat to jhash ip saddr mod $i seed 0x5eed map { $map }
	}
}
NFT
}

haproxy_apply() { # every HAProxy frontend gets the current pool; a reload keeps open connections
	local cfg=$LB_DIR/haproxy.cfg b k algo ids
	{
		cat <<CFG
global
	maxconn 9000 # the machine caps open files at 20,000
	pidfile $LB_DIR/haproxy.pid
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout tunnel 1h
CFG
		for k in haproxy-url haproxy-src haproxy-url-defid haproxy-src-defid; do
			case $k in *url*) algo="url_param session_id" ;; *) algo=source ;; esac
			case $k in *defid) ids=0 ;; *) ids=1 ;; esac
			printf 'frontend fe-%s\n\tbind %s:80\n\tbind %s:8080\n\tdefault_backend %s\n' \
				"$k" "${HOST[$k]}" "${HOST[$k]}" "$k"
			printf 'backend %s\n\tbalance %s\n\thash-type consistent\n' "$k" "$algo"
			# no port: each connection goes to the port the client used (80 or 8080)
			for b in $POOL; do
				printf '\tserver be%s %s%s\n' "$b" "$(tb_backend4 "$b")" "$([ $ids = 1 ] && echo " id $b")"
			done
		done
	} >"$cfg"
	if [ -f "$LB_DIR/haproxy.pid" ]; then
		tb_in lb haproxy -D -f "$cfg" -sf "$(cat "$LB_DIR/haproxy.pid")"
	else
		tb_in lb haproxy -D -f "$cfg"
	fi
}

nginx_apply() { # http and stream upstreams get the current pool; a reload keeps open connections
	local conf=$LB_DIR/nginx.conf b web="" ws=""
	for b in $POOL; do
		web+="		server $(tb_backend4 "$b"):80;"$'\n'
		ws+="		server $(tb_backend4 "$b"):8080;"$'\n'
	done
	cat >"$conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
user root;
worker_processes auto;
worker_rlimit_nofile 19000;
pid $LB_DIR/nginx.pid;
error_log $LB_DIR/nginx-error.log warn;
events { worker_connections 9000; }
http {
	access_log off;
	client_body_temp_path $LB_DIR/body;
	proxy_temp_path $LB_DIR/proxy;
	fastcgi_temp_path $LB_DIR/fastcgi;
	uwsgi_temp_path $LB_DIR/uwsgi;
	scgi_temp_path $LB_DIR/scgi;
	keepalive_requests 100000;
	upstream web {
		hash \$remote_addr consistent;
$web		keepalive 64;
	}
	upstream ws {
		hash \$remote_addr consistent;
$ws	}
	server {
		listen ${HOST[nginx-http]}:80 backlog=4096;
		location / {
			proxy_pass http://web;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
	server {
		listen ${HOST[nginx-http]}:8080;
		location / {
			proxy_pass http://ws;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_read_timeout 1h;
		}
	}
}
stream {
	upstream sweb {
		hash \$remote_addr consistent;
$web	}
	upstream sws {
		hash \$remote_addr consistent;
$ws	}
	server { listen ${HOST[nginx-stream]}:80 backlog=4096; proxy_pass sweb; }
	server { listen ${HOST[nginx-stream]}:8080; proxy_pass sws; }
}
NGINX
	if [ -f "$LB_DIR/nginx.pid" ]; then
		tb_in lb nginx -e "$LB_DIR/nginx-error.log" -c "$conf" -p "$LB_DIR" -s reload
		sleep 1 # the master starts new workers; old ones finish their connections
	else
		tb_in lb nginx -e "$LB_DIR/nginx-error.log" -c "$conf" -p "$LB_DIR"
	fi
}

limpet_apply() { # backend add/del toward the pool on both limpet VIPs and both ports
	local v p b cur
	for v in "${HOST[limpet-token]}" "${HOST[limpet-ip]}"; do
		for p in 80 8080; do
			cur=$(limpetctl -j backend list "$v:$p/tcp" | grep -o '"10\.99\.0\.[0-9]*' | cut -d. -f4)
			for b in $POOL; do
				echo "$cur" | grep -qx "$b" || limpetctl backend add "$v:$p/tcp" "$(tb_backend4 "$b")" || return 1
			done
			for b in $cur; do
				case " $POOL " in *" $b "*) ;; *) limpetctl backend del "$v:$p/tcp" "$(tb_backend4 "$b")" || return 1 ;; esac
			done
		done
	done
}

pool() { # KEY BACKEND... : the balancer's pool becomes these backends
	local k=$1
	shift
	POOL="$*"
	case $k in
	limpet-*) limpet_apply ;;
	nft) nft_apply ;;
	haproxy-*) haproxy_apply ;;
	nginx-*) nginx_apply ;;
	esac || { echo "peers.sh: changing $k's backends failed" >&2; return 1; }
	wait_up "$k"
}

up() { # KEY: the balancer takes traffic (limpet attached, nftables table loaded)
	case $1 in
	limpet-*) tb_attach ;;
	nft) nft_apply ;;
	esac
}

down() { # KEY: back to plain forwarding, so the next balancer is measured alone
	case $1 in
	limpet-*)
		limpetctl flows sweep >/dev/null
		limpet detach dev lbc >/dev/null && limpet detach dev lbb >/dev/null ;;
	nft) tb_in lb nft delete table ip limpetbench ;;
	esac
}

wait_up() { # KEY: until the balancer answers
	local t
	for t in $(seq 50); do
		tb_in cli curl -s -o /dev/null --max-time 1 "http://${HOST[$1]}/?session_id=probe" && return 0
		sleep 0.1
	done
	echo "peers.sh: $1 does not answer on ${HOST[$1]}" >&2
	return 1
}

# ---- measurements -----------------------------------------------------------------------

stat_cpu() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $8, $9}' /proc/stat; } # busy softirq steal
# results.tsv: round key mode req/s p50_ms p99_ms requests errors busy_ms softirq_ms
#              balancer_processes_ms steal_ms outside_ms (CPU of processes outside the testbed)
ns_cpu() { # ticks used so far by the processes in the balancer namespace
	local p s=0
	for p in $(ip netns pids "$TB-lb" 2>/dev/null); do
		s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $s
}

run_wrk() { # KEY MODE(ka|new) ROUND -> appends a line to results.tsv
	local k=$1 mode=$2 r=$3 hdr=() dst="" b0 b1 s0 s1 st0 st1 p0 p1 o0 o1 out
	[ "$mode" = new ] && hdr=(-H 'Connection: close')
	[ "$k" = direct-3 ] && dst="$(tb_backend4 1) $(tb_backend4 2) $(tb_backend4 3)"
	o0=$("$ROOT/tools/bench/othercpu.py" $$)
	read -r b0 s0 st0 <<<"$(stat_cpu)"
	p0=$(ns_cpu)
	out=$(tb_in cli env LD_PRELOAD="$TB_BUILD/limpet_bindshim.so" LIMPET_BIND_SRC="$SRCS" LIMPET_BIND_DST="$dst" \
		timeout $((SECS + 30)) wrk -t2 -c"$WRK_CONNS" -d"${SECS}s" --timeout 5s --latency \
		"${hdr[@]}" -s "$ROOT/tools/bench/sid.lua" "http://${HOST[$k]}/" 2>&1)
	read -r b1 s1 st1 <<<"$(stat_cpu)"
	p1=$(ns_cpu)
	o1=$("$ROOT/tools/bench/othercpu.py" $$)
	echo "$out" >"$OUT/wrk/$k.$mode.$r.txt"
	echo "$out" | awk -v k="$k" -v m="$mode" -v r="$r" -v mb=$((b1 - b0)) -v sb=$((s1 - s0)) \
		-v stb=$((st1 - st0)) -v pb=$((p1 - p0)) -v ob=$((o1 > o0 ? o1 - o0 : 0)) -v hz="$(getconf CLK_TCK)" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
			if (v ~ /s$/) return v * 1000; return v }
		/^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
		/requests in/ { n = $1 } /Requests\/sec/ { rps = $2 }
		/Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx/ { e += $NF }
		END { printf "%s\t%s\t%s\t%.1f\t%.3f\t%.3f\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", r, k, m,
			rps, p50, p99, n, e, mb * 1000 / hz, sb * 1000 / hz, pb * 1000 / hz, stb * 1000 / hz,
			ob * 1000 / hz }' \
		>>"$OUT/results.tsv"
}

sessions() { # KEY: stickiness, address change, WebSocket across adding be4, disruption
	local k=$1 d=$OUT/sessions/$1 h=${HOST[$1]} wsp
	mkdir -p "$d"
	up "$k" && pool "$k" 1 2 3 || return 1
	case $k in limpet-*) limpetctl affinity flush >/dev/null ;; esac
	tb_in cli "$ROOT/tools/bench/sessions.py" probe "$h" "$NSESS" "$CONNS" 0 >"$d/base.json"
	tb_in cli "$ROOT/tools/bench/sessions.py" probe "$h" "$NSESS" 1 "$NSESS" >"$d/addr.json"
	tb_in cli "$ROOT/tools/bench/sessions.py" ws "$h" 8080 "$WS_N" "$WS_SECS" >"$d/ws.json" &
	wsp=$!
	sleep 2
	pool "$k" 1 2 3 4 || return 1
	tb_in cli "$ROOT/tools/bench/sessions.py" probe "$h" "$NSESS" 1 0 >"$d/add.json"
	wait "$wsp"
	pool "$k" 1 3 4 || return 1
	tb_in cli "$ROOT/tools/bench/sessions.py" probe "$h" "$NSESS" 1 0 >"$d/remove.json"
	pool "$k" 1 2 3 && down "$k"
}

# ---- the testbed --------------------------------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	echo "peers.sh: needs root (namespaces, BPF)" >&2
	exit 1
fi
rm -rf "$OUT/results.tsv" "$OUT/sessions" "$OUT/wrk"
mkdir -p "$OUT/sessions" "$OUT/wrk"
TB_QUIET=1 tb_setup 4 $((2 * NSESS)) || exit 1
LB_DIR=$TB_DIR/lb
mkdir -p "$LB_DIR"
# No TIME_WAIT on the backends and the proxies: with a new connection per request, a later
# run's (address, port) pairs would otherwise meet an earlier run's TIME_WAIT sockets, and
# every balancer would pay for that differently. Ports and somaxconn sized for 200 clients.
for ns in be1 be2 be3 be4 lb; do
	tb_in "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0 net.core.somaxconn=4096 \
		net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_max_syn_backlog=4096
done
tb_in cli sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
for b in 1 2 3 4; do # WebSocket echo on :8080 next to each backend's nginx
	tb_in "be$b" "$ROOT/tools/ws_name.py" server "be$b" 8080 >/dev/null 2>&1 &
done
SRCS=$(for ((i = 0; i < NSESS; i++)); do tb_client4 $i; done | tr '\n' ' ')
for h in 60 61 62 63 64 65; do tb_in lb ip addr add "203.0.113.$h/32" dev lo; done
case " $BALANCERS $SESSION_BALANCERS " in *" haproxy-"*) haproxy_apply || exit 1 ;; esac
case " $BALANCERS $SESSION_BALANCERS " in *" nginx-"*) nginx_apply || exit 1 ;; esac
tb_attach || exit 1
limpetctl vip add "${HOST[limpet-ip]}:80/tcp" policy ip-hash >/dev/null &&
	limpetctl vip add "${HOST[limpet-ip]}:8080/tcp" policy ip-hash >/dev/null &&
	limpetctl vip add "${HOST[limpet-token]}:80/tcp" policy token token query session_id >/dev/null &&
	limpetctl vip add "${HOST[limpet-token]}:8080/tcp" policy token token query session_id >/dev/null &&
	limpet_apply || exit 1
down limpet-ip
for b in 1 2 3 4; do
	for t in $(seq 50); do tb_in lb curl -s -o /dev/null --max-time 1 "http://$(tb_backend4 "$b"):8080/" -w '%{http_code}' | grep -q 426 && break; sleep 0.1; done
done
for k in $BALANCERS; do up "$k" && wait_up "$k" && down "$k" || exit 1; done
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine=$(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB"
	echo "kernel=$(uname -r)"
	echo "versions=$(for p in haproxy nginx-light libnginx-mod-stream nftables wrk; do
		dpkg-query -W -f='${Package} ${Version}, ' "$p" 2>/dev/null; done | sed 's/, $//')"
	echo "command=tools/bench/peers.sh $SECS $ROUNDS $NSESS $CONNS (WRK_CONNS=$WRK_CONNS WS_N=$WS_N WS_SECS=$WS_SECS)"
	echo "secs=$SECS"
	echo "rounds=$ROUNDS"
	echo "wrk_conns=$WRK_CONNS"
	echo "nsess=$NSESS"
	echo "conns=$CONNS"
	echo "ws_n=$WS_N"
} >"$OUT/meta"

# ---- performance, rounds interleaved ------------------------------------------------------

read -ra keys <<<"$BALANCERS"
for ((r = 1; r <= ROUNDS; r++)); do
	for ((j = 0; j < ${#keys[@]}; j++)); do
		k=${keys[$(((j + r - 1) % ${#keys[@]}))]}
		up "$k" || exit 1
		run_wrk "$k" ka "$r"
		run_wrk "$k" new "$r"
		down "$k"
		echo "peers.sh: round $r $k done" >&2
	done
done

# ---- session figures ----------------------------------------------------------------------

for k in $SESSION_BALANCERS; do
	sessions "$k" || exit 1
	echo "peers.sh: sessions $k done" >&2
done
exit 0
