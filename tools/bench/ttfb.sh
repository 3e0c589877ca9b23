#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Time to first byte through limpet vs straight to the backend, new connection per request:
# median of N requests (one curl, "Connection: close", time_starttransfer per transfer).
#   ttfb.sh [N]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TB=lpttfb
. "$ROOT/tools/testbed.sh"
N=${1:-200}
trap tb_cleanup EXIT
TB_QUIET=1 tb_setup 1 4 || exit 1
ip netns exec "$TB-be1" sysctl -qw net.ipv4.tcp_fastopen=0x603
limpet attach dev lbc >/dev/null && limpet attach dev lbb >/dev/null || exit 1
limpetctl vip add 203.0.113.40:80/tcp policy ip-hash
limpetctl vip add 203.0.113.41:80/tcp policy token token query sid
limpetctl vip add 203.0.113.42:80/tcp policy token token query sid syn-data on
for v in 40 41 42; do limpetctl backend add 203.0.113.$v:80/tcp 10.99.0.1; done

median() { # URL -> median time_starttransfer in ms over N new connections
	local urls=() i
	for ((i = 0; i < N; i++)); do urls+=("$1"); done
	tb_in cli curl -s -m 30 --interface "$(tb_client4 0)" -H 'Connection: close' \
		-o /dev/null -w '%{time_starttransfer}\n' "${urls[@]}" |
		sort -n | awk '{v[NR]=$1} END {printf "%.3f", v[int((NR+1)/2)] * 1000}'
}
median "http://10.99.0.1/" >/dev/null # warm neighbours and caches
d=$(median "http://10.99.0.1/")
echo "| path | median time to first byte (ms, $N requests) | × direct |"
echo "|---|---:|---:|"
printf '| direct to the backend (through the same host, no balancing) | %s | 1.00 |\n' "$d"
for c in "ip-hash VIP (NAT)|http://203.0.113.40/" \
	"token VIP, syn-data off (first segment held, sent after the backend's SYN-ACK)|http://203.0.113.41/?sid=u1" \
	"token VIP, syn-data on (first segment in the backend SYN, TCP Fast Open)|http://203.0.113.42/?sid=u1"; do
	m=$(median "${c#*|}")
	printf '| %s | %s | %.2f |\n' "${c%%|*}" "$m" "$(echo "$m $d" | awk '{print $1 / $2}')"
done
