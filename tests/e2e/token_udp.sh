#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# UDP session tokens end to end: the token in every datagram keeps a session on its backend
# when the client's address changes, and adding a backend moves no live session.
# TOKU_MODE=ipip (token_udp_dsr.sh): the same through an ipip (DSR) VIP, the backends running
# limpet's decap and answering from the VIP themselves.
. "$(dirname "$0")/lib.sh"
MODE=${TOKU_MODE:-nat}
TB=lptoku$$
trap 'for b in 1 2 3 4; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done; tb_cleanup' EXIT
VIP=203.0.113.20:4000/udp

tb_setup 3 200 || { not_ok "testbed"; t_done; exit 1; }
tb_attach || { not_ok "attach"; t_done; exit 1; }
for b in 1 2 3 4; do
	[ $b -le 3 ] || tb_backend_add 4
	if [ "$MODE" = ipip ]; then
		ip -n "$TB-be$b" addr add 203.0.113.20/32 dev lo
		ip netns exec "$TB-be$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2
		nsenter --net="/run/netns/$TB-be$b" "$TB_BUILD/limpet" -i "${TB}be$b" decap attach dev eth0 \
			>/dev/null && nsenter --net="/run/netns/$TB-be$b" "$TB_BUILD/limpet" -i "${TB}be$b" \
			decap vip add 203.0.113.20
	fi
	ip netns exec "$TB-be$b" "$E2E_ROOT/tools/udp_name.py" server "be$b" 4000 &
done
limpetctl vip add $VIP policy token token udp offset 2 len 12 mode $MODE
# NAT establishes a UDP flow (and writes its token's affinity) on the backend's answer; in DSR
# limpet never sees one, so on the client's second datagram: a session's first address sends
# two (its later addresses one each: they find the token's affinity)
N=1
[ "$MODE" = ipip ] && N=2
for b in 1 2 3; do limpetctl backend add $VIP "$(tb_backend4 $b)"; done
sleep 0.5

# 60 sessions, each from 3 different client addresses (mobile handover, NAT rebinding)
for s in $(seq 0 59); do
	for hop in 0 1 2; do
		printf '%s Q1sess%06dXYZ-%d %d\n' "$(tb_client4 $(((s * 3 + hop) % 200)))" "$s" "$hop" \
			$((hop ? 1 : N))
	done
done >"$TB_DIR/plan"
tb_in cli "$PY" "$E2E_ROOT/tools/udp_name.py" client 203.0.113.20 4000 <"$TB_DIR/plan" >"$TB_DIR/r1"
answered=$(awk '$3 != "-"' "$TB_DIR/r1" | wc -l)
check "180 datagrams from 60 sessions x 3 addresses answered ($answered)" [ "$answered" -eq 180 ]
split=$(awk '{s=substr($2,1,12); if (!(s in b)) b[s]=$3; else if (b[s]!=$3) n++} END {print n+0}' "$TB_DIR/r1")
check "each session stayed on one backend across its address changes ($split moved)" [ "$split" -eq 0 ]
spread=$(awk '{s=substr($2,1,12); b[s]=$3} END {for (s in b) c[b[s]]++; for (x in c) printf "%s=%d ", x, c[x]}' "$TB_DIR/r1")
nbe=$(echo "$spread" | wc -w)
check "sessions spread over all 3 backends ($spread)" [ "$nbe" -eq 3 ]
st=$(limpetctl -j stats)
found=$(jget "$st" "[e['count'] for e in d['events'] if e['event']=='token_found'][0]")
check "token_found counted once per new flow ($found >= 180)" [ "$found" -ge 180 ]

# a fourth backend: live sessions stay (affinity), new sessions reach it
limpetctl backend add $VIP "$(tb_backend4 4)"
awk '{print $1, $2}' "$TB_DIR/plan" | sed 's/-\([0-9]\)$/-r\1/' >"$TB_DIR/plan2"
tb_in cli "$PY" "$E2E_ROOT/tools/udp_name.py" client 203.0.113.20 4000 <"$TB_DIR/plan2" >"$TB_DIR/r2"
moved=$(awk 'NR==FNR {b[substr($2,1,12)]=$3; next} {if (b[substr($2,1,12)] != $3) n++} END {print n+0}' "$TB_DIR/r1" "$TB_DIR/r2")
check "after adding be4: $moved of 180 datagrams of live sessions moved" [ "$moved" -eq 0 ]
for s in $(seq 100 139); do printf '%s Q1sess%06dXYZ-0\n' "$(tb_client4 $((s % 200)))" "$s"; done >"$TB_DIR/plan3"
tb_in cli "$PY" "$E2E_ROOT/tools/udp_name.py" client 203.0.113.20 4000 <"$TB_DIR/plan3" >"$TB_DIR/r3"
n4=$(awk '$3 == "be4"' "$TB_DIR/r3" | wc -l)
check "after adding be4: $n4 of 40 new sessions reached it" [ "$n4" -gt 0 ]
# too short for the token: the fallback (ip-hash), counted
echo "$(tb_client4 7) Q1" | tb_in cli "$PY" "$E2E_ROOT/tools/udp_name.py" client 203.0.113.20 4000 >"$TB_DIR/r4"
missing=$(jget "$(limpetctl -j stats)" "[e['count'] for e in d['events'] if e['event']=='token_missing'][0]")
check "a datagram without a token is served by the fallback and counted ($(cat "$TB_DIR/r4"), missing=$missing)" \
	[ $(( $(awk '$3 != "-"' "$TB_DIR/r4" | wc -l) == 1 && missing >= 1 )) -eq 1 ]
t_done
