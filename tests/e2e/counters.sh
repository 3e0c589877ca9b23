#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Counters add up: over a mixed run (NAT, token, UDP, ICMP, TTL 1, non-VIP traffic, a refusing
# backend, a small SYN flood), the XDP reasons sum to the packets the XDP program saw and the TC
# reasons to the packets the TC program saw, as the kernel counts runs (kernel.bpf_stats_enabled).
. "$(dirname "$0")/lib.sh"
TB=lpcnt$$
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
trap 'tb_cleanup; sysctl -qw kernel.bpf_stats_enabled=$STATS0' EXIT
sysctl -qw kernel.bpf_stats_enabled=1

tb_setup 3 20 5 || { not_ok "testbed"; t_done; exit 1; }
tb_limpet_up 3 || { not_ok "limpet up"; t_done; exit 1; }
VT=203.0.113.41
VU=203.0.113.42
VR=203.0.113.43
limpetctl vip add $VT:80/tcp policy token token query sid
limpetctl vip add $VU:53/udp policy five-tuple
limpetctl vip add $VR:80/tcp policy token token query sid
limpetctl vip add "[$TB_VIP6]:80/tcp"
for b in 1 2 3; do
	limpetctl backend add $VT:80/tcp "$(tb_backend4 $b)"
	limpetctl backend add $VU:53/udp "$(tb_backend4 $b)"
	limpetctl backend add "[$TB_VIP6]:80/tcp" "$(tb_backend6 $b)"
done
limpetctl backend add $VR:80/tcp 10.99.0.1:82 # nothing listens: the backend refuses

xdp_id=$(jget "$(limpet -j status)" "d['devices'][0]['prog_id']")
tc_id=$(bpftool -j prog show pinned "/sys/fs/bpf/limpet/$TB/prog_tc" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['id'])")
# bpftool leaves run_cnt out while the program has not run yet (stats are on: 0, not unknown)
runs() { bpftool -j prog show id "$1" | "$PY" -c "import json,sys; print(json.load(sys.stdin).get('run_cnt', 0))"; }
sums() { limpetctl -j stats | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(sum(r['packets'] for r in d['reasons']), sum(r['packets'] for r in d['tc_reasons']))"; }
# runs and reasons read while nothing is in flight: the run counts, and the reason sums, the same
# before and after (a program counts its reason before the kernel counts its run; a stray
# neighbour-discovery packet can pass at any moment)
snapshot() {
	local t x1 c1 xs cs x2 c2 xs2 cs2
	for t in $(seq 30); do
		x1=$(runs "$xdp_id"); c1=$(runs "$tc_id")
		read -r xs cs <<<"$(sums)"
		x2=$(runs "$xdp_id"); c2=$(runs "$tc_id")
		read -r xs2 cs2 <<<"$(sums)"
		[ "$x1" = "$x2" ] && [ "$c1" = "$c2" ] && [ "$xs" = "$xs2" ] && [ "$cs" = "$cs2" ] && break
		sleep 0.2
	done
	echo "$x1 $c1 $xs $cs"
}
# from here on: the instance's programs were replaced by the second attach, and packets the
# first ones ran on (neighbour discovery, say) count reasons but not these programs' runs
read -r X0 C0 XS0 CS0 <<<"$(snapshot)"

# the mix
for i in $(seq 0 9); do tb_get "$(tb_client4 $i)" "http://$TB_VIP4/" 3 >/dev/null; done
for i in $(seq 0 4); do tb_get "$(tb_client4 $i)" "http://$VT/?sid=s$i" 2 >/dev/null; done
for i in $(seq 0 4); do
	tb_in cli curl -s -m 3 -g --interface "$(tb_client6 $i)" -o /dev/null "http://[$TB_VIP6]/"
done
tb_in cli curl -s -m 3 --interface "$(tb_client4 11)" "http://$VR/?sid=refused" >/dev/null
tb_in cli "$PY" - "$VU" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b"q%d" % i, (sys.argv[1], 53))   # to a VIP whose backends do not listen on 53
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
for i in range(5):
    s.sendto(b"ttl", (sys.argv[1], 53))       # TTL 1: the kernel's to answer
PY
tb_in cli ping -c 3 -i 0.2 -W 1 "$TB_VIP4" >/dev/null        # ICMP to a VIP address
tb_in cli ping -c 3 -i 0.2 -W 1 "$(tb_backend4 1)" >/dev/null # not a VIP, both ways
tb_in cli "$E2E_ROOT/tools/synflood.py" $VT 80 2000 10 >/dev/null
sleep 1

read -r x1 c1 xs cs <<<"$(snapshot)"
x1=$((x1 - X0)) c1=$((c1 - C0)) xs=$((xs - XS0)) cs=$((cs - CS0))
st=$(limpetctl -j stats)
nz=$(echo "$st" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(' '.join('%s=%d' % (r['reason'], r['packets']) for r in d['reasons'] + d['tc_reasons'] if r['packets']))")
note "reasons seen: $nz"
kinds=$(echo "$st" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(sum(1 for r in d['reasons'] if r['packets']))")
check "the mix reached many reasons ($kinds kinds)" [ "$kinds" -ge 8 ]
check "XDP: reasons sum to the packets the program ran on ($xs = $x1)" [ "$xs" = "$x1" ]
check "TC: reasons sum to the packets the program ran on ($cs = $c1)" [ "$cs" = "$c1" ]
t_done
