#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Idle sessions survive churn: sessions through an ip-hash VIP (IPv4 and IPv6), a token VIP and
# an l2dsr VIP sit idle while spoofed SYN floods and real short connections, each more than twice
# the established table's size, go through the same balancer; then a backend joins the l2dsr
# VIP (its table changes, and it keeps no affinity), every server pushes first and every client
# answers, on its own backend.
. "$(dirname "$0")/lib.sh"
TB=lpchurn$$
trap tb_cleanup EXIT
FLOWS=4096
HALF=1024
V4=203.0.113.20
VT=203.0.113.21
V6=2001:db8:f::20
VL=203.0.113.22 # l2dsr: limpet sees only the clients' side; affinity off, so only flows hold
N=20

tb_setup 3 40 10 || { not_ok "testbed"; t_done; exit 1; }
TB_ATTACH_OPTS="flows $FLOWS halfopen $HALF affinity $FLOWS" tb_limpet_up 3 ||
	{ not_ok "limpet up"; t_done; exit 1; }
limpetctl vip add $V4:9000/tcp
limpetctl vip add $VT:9000/tcp policy token token query sid
limpetctl vip add "[$V6]:9000/tcp"
limpetctl vip add $VL:9000/tcp mode l2dsr affinity-timeout 0
dsr_backend() { # N: backend N takes VL's packets (on its lo, never answered for on the wire)
	ip -n "$TB-be$1" addr add "$VL/32" dev lo
	ip netns exec "$TB-be$1" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2
}
for b in 1 2 3; do
	dsr_backend $b
	limpetctl backend add $VL:9000/tcp "$(tb_backend4 $b)"
	limpetctl backend add $V4:9000/tcp "$(tb_backend4 $b)"
	limpetctl backend add $VT:9000/tcp "$(tb_backend4 $b)"
	limpetctl backend add "[$V6]:9000/tcp" "$(tb_backend6 $b)"
	ip netns exec "$TB-be$b" "$PY" "$E2E_ROOT/tools/push_sessions.py" server "be$b" 9000 \
		"$TB_DIR/push" &
done
sleep 1
srcs4=$(for i in $(seq 0 9); do tb_client4 $i; done | paste -sd,)
srcs6=$(for i in $(seq 0 9); do tb_client6 $i; done | paste -sd,)
srcsl=$(for i in $(seq 10 29); do tb_client4 $i; done | paste -sd,) # one client a session
clients=()
for v in "$V4 $srcs4 ip4" "$VT $srcs4 tok" "$V6 $srcs6 ip6" "$VL $srcsl l2"; do
	set -- $v
	tb_in cli "$PY" "$E2E_ROOT/tools/push_sessions.py" client "$1" 9000 "$2" $N 150 \
		"$TB_DIR/ready.$3" >"$TB_DIR/sess.$3" &
	clients+=($!)
done
for t in $(seq 100); do
	[ -f "$TB_DIR/ready.ip4" ] && [ -f "$TB_DIR/ready.tok" ] && [ -f "$TB_DIR/ready.ip6" ] &&
		[ -f "$TB_DIR/ready.l2" ] && break
	sleep 0.1
done
est0=$(jget "$(limpet -j status)" "[t['used'] for t in d['tables'] if t['table'] == 'flows'][0]")
check "$((4 * N)) idle sessions established ($est0 flows established)" [ "$est0" -ge $((4 * N)) ]

# churn: spoofed SYNs at both session VIPs, real short connections through the balancer
tb_in cli sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
t0=$(date +%s%N)
# at least 3 x the table each, and for 3 s, so a new client's connections are made during them
tb_in cli "$E2E_ROOT/tools/synflood.py" $V4 9000 1000000 3 >"$TB_DIR/flood1" &
f1=$!
tb_in cli "$E2E_ROOT/tools/synflood.py" $VT 9000 1000000 3 >"$TB_DIR/flood2" &
f2=$!
tb_in cli "$E2E_ROOT/tools/synflood.py" $VL 9000 1000000 3 >"$TB_DIR/flood3" &
f3=$!
sleep 0.3
# a legitimate new client during the floods: 20 new connections, each timed
tb_in cli timeout 30 curl -s --max-time 5 --interface "$(tb_client4 30)" -H 'Connection: close' \
	-w '%{time_total}\n' $(for i in $(seq 20); do echo "-o /dev/null http://$TB_VIP4/"; done) \
	>"$TB_DIR/during"
during=0
kill -0 $f1 2>/dev/null && kill -0 $f2 2>/dev/null && kill -0 $f3 2>/dev/null && during=1
wait $f1 $f2 $f3
t1=$(date +%s%N)
sent=$(($(cat "$TB_DIR/flood1") + $(cat "$TB_DIR/flood2") + $(cat "$TB_DIR/flood3")))
ms=$(((t1 - t0) / 1000000))
note "floods: $sent spoofed SYNs in $ms ms ($((sent * 1000 / (ms + 1))) SYN/s); a new client during them:" \
	"$(grep -c . "$TB_DIR/during") of 20 connections served, slowest $(sort -n "$TB_DIR/during" | tail -1) s"
check "a new client was served while the floods ran" [ "$(grep -c . "$TB_DIR/during")$during" = 201 ]
real=0
for r in 1 2 3 4 5 6; do
	out=$(tb_in cli timeout 20 wrk -t1 -c32 -d3s -H 'Connection: close' "http://$TB_VIP4/" 2>&1)
	real=$((real + $(echo "$out" | awk '/requests in/ {print $1}')))
	[ "$real" -gt $((2 * FLOWS)) ] && break
done
fl1=$(cat "$TB_DIR/flood1")
fl2=$(cat "$TB_DIR/flood2")
fl3=$(cat "$TB_DIR/flood3")
check "spoofed SYNs: $fl1, $fl2 and $fl3, each more than twice the table ($FLOWS)" \
	[ $((fl1 > 2 * FLOWS && fl2 > 2 * FLOWS && fl3 > 2 * FLOWS)) -eq 1 ]
check "real short connections: $real, more than twice the table ($FLOWS)" [ "$real" -gt $((2 * FLOWS)) ]
newf=$(limpetctl -j stats | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(sum(v['new_flows'] for v in d['vips']))")
check "the half-open table ($HALF) was overrun many times: $newf new flows" [ "$newf" -gt $((4 * HALF)) ]

# a fourth backend joins the l2dsr VIP: a quarter of its table moves to it, so a session whose
# flow the floods had evicted would now go there (no second chance in l2dsr, no affinity)
tb_backend_add 4 >/dev/null && dsr_backend 4
out=$(limpetctl backend add $VL:9000/tcp "$(tb_backend4 4)" 2>&1)
check "be4 joined the l2dsr VIP ($out)" [ $? -eq 0 ]

# the servers push first; every client must get it, from the backend it said hello from
touch "$TB_DIR/push"
wait "${clients[@]}"
for k in ip4 tok ip6 l2; do
	got=$(awk '$3 != "-" && $3 == $4 && $4 == $5' "$TB_DIR/sess.$k" | wc -l)
	bes=$(awk '{print $3}' "$TB_DIR/sess.$k" | sort -u | paste -sd' ')
	check "$k: $got of $N idle sessions got the server's push after the churn and answered it (backends: $bes)" \
		[ "$got" -eq $N ]
done
t_done
