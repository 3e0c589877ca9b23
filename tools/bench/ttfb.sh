#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Time to first byte through limpet vs straight to the backend, new connection per request:
# median of N requests (one curl, "Connection: close", time_starttransfer per transfer).
#   ttfb.sh [N [ROUNDS]]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TB=lpttfb
. "$ROOT/tools/testbed.sh"
N=${1:-200}
ROUNDS=${2:-3}
trap tb_cleanup EXIT
TB_QUIET=1 tb_setup 1 32 || exit 1
# thousands of short connections: spread them over client addresses and a wide port range, so
# no port meets the server's TIME_WAIT of an earlier connection
tb_in cli sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
ip netns exec "$TB-be1" sysctl -qw net.ipv4.tcp_fastopen=0x603
tb_attach || exit 1
limpetctl vip add 203.0.113.40:80/tcp policy ip-hash
limpetctl vip add 203.0.113.41:80/tcp policy token token query sid
limpetctl vip add 203.0.113.42:80/tcp policy token token query sid syn-data on
for v in 40 41 42; do limpetctl backend add 203.0.113.$v:80/tcp 10.99.0.1; done

median() { # URL SRC_INDEX -> median time_starttransfer in ms over N new connections
	local urls=() i
	# one -o per URL: curl applies an output option to one URL only
	for ((i = 0; i < N; i++)); do urls+=("$1" -o /dev/null); done
	tb_in cli curl -s -m 60 --interface "$(tb_client4 "${2:-0}")" -H 'Connection: close' \
		-w '%{http_code} %{time_starttransfer}\n' "${urls[@]}" |
		awk '$1 == 200 {print $2}' | sort -n |
		awk -v n="$N" '{v[NR]=$1} END {if (NR != n) {print "FAILED(" NR "/" n " answered)"; exit}
			printf "%.3f", v[int((NR+1)/2)] * 1000}'
}
median "http://10.99.0.1/" >/dev/null # warm neighbours and caches
paths=("direct to the backend (through the same host, no balancing)|http://10.99.0.1/"
	"ip-hash VIP (NAT)|http://203.0.113.40/"
	"token VIP, syn-data off (first segment held, sent after the backend's SYN-ACK)|http://203.0.113.41/?sid=u1"
	"token VIP, syn-data on (first segment in the backend SYN, TCP Fast Open)|http://203.0.113.42/?sid=u1")
# rounds interleave the paths, so a noisy moment hits them all alike
declare -A res
for r in $(seq "$ROUNDS"); do
	for i in "${!paths[@]}"; do res[$i]+="$(median "${paths[$i]#*|}" $((r * 4 + i))) "; done
done
mid() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR]=$1} END {if ($0 ~ /FAILED/ || !NR) {print "FAILED"; exit} printf "%.3f %.3f %.3f", v[int((NR+1)/2)], v[1], v[NR]}'; }
read -r d dmin dmax <<<"$(mid "${res[0]}")"
echo "| path | median time to first byte (ms; median of $ROUNDS rounds of $N requests) | min–max | × direct |"
echo "|---|---:|---:|---:|"
for i in "${!paths[@]}"; do
	read -r m lo hi <<<"$(mid "${res[$i]}")"
	printf '| %s | %s | %s–%s | %s |\n' "${paths[$i]%%|*}" "$m" "$lo" "$hi" \
		"$(echo "$m $d" | awk '$1+0 > 0 && $2+0 > 0 {printf "%.2f", $1 / $2; next} {print "-"}')"
done
