#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Health checks by the daemon, HTTP at a 1 s interval, real nginx backends and curl clients: a
# backend whose server dies (or hangs) goes down, its clients are served elsewhere on their next
# connection and no other client moves; back up, it takes new clients only; health set by hand;
# on-down reset answers an idle client of a vanished backend with a RST; every backend down:
# fail-open. HC_MODE=ipip (health_dsr.sh): the same for a DSR VIP, the backends running limpet's
# decap.
. "$(dirname "$0")/lib.sh"
MODE=${HC_MODE:-nat}
TB=lphc$$
DPID=
trap '[ -n "$DPID" ] && kill $DPID 2>/dev/null
	for b in 1 2 3; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done; tb_cleanup' EXIT
URL=http://$TB_VIP4/
V=$TB_VIP4:80/tcp

tb_setup 3 80 || { not_ok "testbed"; t_done; exit 1; }
B1=$(tb_backend4 1) B2=$(tb_backend4 2) B3=$(tb_backend4 3)
if [ "$MODE" = ipip ]; then
	for b in 1 2 3; do
		ip -n "$TB-be$b" addr add "$TB_VIP4/32" dev lo
		ip netns exec "$TB-be$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2
		nsenter --net="/run/netns/$TB-be$b" "$TB_BUILD/limpet" -i "${TB}be$b" decap attach dev eth0 \
			>/dev/null && nsenter --net="/run/netns/$TB-be$b" "$TB_BUILD/limpet" -i "${TB}be$b" \
			decap vip add "$TB_VIP4"
	done
fi
conf=$TB_DIR/limpet.conf
cat >"$conf" <<EOF
attach dev lbc
attach dev lbb
vip add $V mode $MODE check http / check-interval 1 check-timeout 1 rise 2 fall 2 slowstart 3
backend add $V $B1
backend add $V $B2
backend add $V $B3
EOF
nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" run -c "$conf" 2>"$TB_DIR/daemon.log" &
DPID=$!
health_of() { # BACKEND-ADDR: its health column
	jget "$(limpetctl -j backend list "$V" 2>/dev/null)" \
		"[b['health'] for b in d['backends'] if b['backend'].startswith('$1:')][0]" 2>/dev/null
}
wait_health() { # BACKEND-ADDR STATE SECONDS: the seconds it took, or fails
	local t0 i
	t0=$(date +%s%N)
	for ((i = 0; i < $3 * 10; i++)); do
		if [ "$(health_of "$1")" = "$2" ]; then
			echo "$(((($(date +%s%N) - t0) / 1000000)))"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
wait_log() { wait_grep "$TB_DIR/daemon.log" "$1" 3; } # it sets the map first, then logs
ups=0
for b in $B1 $B2 $B3; do wait_health "$b" up 8 >/dev/null && ups=$((ups + 1)); done
check "the daemon's checks find all three backends up ($ups)" [ $ups -eq 3 ]
declare -A be_of
for ((c = 0; c < 60; c++)); do be_of[$c]=$(tb_get "$(tb_client4 $c)" "$URL"); done
n2=0
for ((c = 0; c < 60; c++)); do [ "${be_of[$c]}" = be2 ] && n2=$((n2 + 1)); done
check "60 clients served, $n2 on be2" [ "$(printf '%s\n' "${be_of[@]}" | grep -c '^be')" -eq 60 -a $n2 -gt 0 ]

# be2's server dies
kill "$(cat "$TB_DIR/be2/nginx.pid")"
ms=$(wait_health "$B2" down 10)
check "be2 found down after its server died (${ms:-no} ms; fall 2 x interval 1 s)" [ -n "$ms" ]
note "time to down: $ms ms (target: fall x interval + 1 s = 3000 ms)"
check "the daemon logged it" wait_log "backend down $V $B2:80 failed"
moved=0 served=0
for ((c = 0; c < 60; c++)); do
	g=$(tb_get "$(tb_client4 $c)" "$URL")
	if [ "${be_of[$c]}" = be2 ]; then
		[ -n "$g" ] && [ "$g" != be2 ] && served=$((served + 1))
		be_of[$c]=$g
	else
		[ "$g" = "${be_of[$c]}" ] || moved=$((moved + 1))
	fi
done
check "be2 down: all $n2 of its clients served by others ($served)" [ $served -eq $n2 ]
check "be2 down: no client of be1 or be3 moved ($moved)" [ $moved -eq 0 ]

# it comes back: up after rise checks, ramped over slowstart 3 s, new clients only
slots_of() { # BACKEND-ADDR: how many of the VIP's Maglev slots it owns now (an ipip VIP's
	# table holds each slot's previous owner in its second half)
	local id
	id=$(jget "$(limpetctl -j backend list "$V")" "[b['id'] for b in d['backends'] if b['backend'].startswith('$1:')][0]")
	maglev_table "$TB" "$V" >"$TB_DIR/table" || return 1
	awk -v id="$id" -v half=$([ "$MODE" = ipip ] && echo 1 || echo 0) \
		'{v[NR] = $1} END {n = half ? NR / 2 : NR; for (i = 1; i <= n; i++) k += v[i] == id; print k + 0}' "$TB_DIR/table"
}
ip netns exec "$TB-be2" nginx -e "$TB_DIR/be2/error.log" -c "$TB_DIR/be2/nginx.conf" -p "$TB_DIR/be2"
ms=$(wait_health "$B2" up 10)
check "be2 up again after its server came back (${ms:-no} ms; rise 2)" [ -n "$ms" ]
early=$(slots_of "$B2")
wait_grep "$TB_DIR/daemon.log" "backend $V $B2:80: slowstart done" 6
late=$(slots_of "$B2")
check "slowstart: be2's share of the table grew from $early to $late slots over 3 s" \
	[ "$early" -lt $((late / 2)) -a "$late" -gt 0 ]
moved=0
for ((c = 0; c < 60; c++)); do [ "$(tb_get "$(tb_client4 $c)" "$URL")" = "${be_of[$c]}" ] || moved=$((moved + 1)); done
check "be2 up: none of the 60 known clients moved ($moved)" [ $moved -eq 0 ]
new2=0
for ((c = 60; c < 80; c++)); do [ "$(tb_get "$(tb_client4 $c)" "$URL")" = be2 ] && new2=$((new2 + 1)); done
check "be2 up: new clients reach it ($new2 of 20)" [ $new2 -gt 0 ]

# by hand: down whatever the checks say, then back to them
limpetctl backend health "$V" "$B1" down
check "backend health ... down: shown as set by hand" [ "$(health_of "$B1")" = "down (set)" ]
sleep 2.5
check "the checks leave a hand-set health alone" [ "$(health_of "$B1")" = "down (set)" ]
c=0
while [ $c -lt 59 ] && [ "${be_of[$c]}" != be1 ]; do c=$((c + 1)); done
g=$(tb_get "$(tb_client4 $c)" "$URL")
check "client $c of be1, set down: served by another ($g)" [ -n "$g" -a "$g" != be1 ]
limpetctl backend health "$V" "$B1" auto
check "backend health ... auto: the checks decide again (up)" wait_health "$B1" up 6

# be1 hangs: its nginx stopped (SIGSTOP), the kernel still completing handshakes that nobody
# answers; the checks time out, its clients go elsewhere; resumed, it is up again
hang() { local m; m=$(cat "$TB_DIR/be1/nginx.pid"); kill -"$1" "$m" $(pgrep -P "$m"); }
hang STOP
ms=$(wait_health "$B1" down 10)
check "be1 found down while its server hangs (${ms:-no} ms; the checks time out)" [ -n "$ms" ]
g=$(tb_get "$(tb_client4 $c)" "$URL")
check "client $c of the hung be1: served by another ($g)" [ -n "$g" -a "$g" != be1 ]
hang CONT
check "be1 up again once its server resumes" wait_health "$B1" up 10

# on-down reset: a client idle on a backend that vanished (no FIN: its link goes down) gets a RST
# on its next request instead of waiting out TCP's retransmissions
sed -i "s|^vip add $V .*|& on-down reset|" "$conf"
kill -HUP $DPID
for ((c = 0; c < 60; c++)); do [ "${be_of[$c]}" = be3 ] && break; done
cat >"$TB_DIR/idle.py" <<'PY'
import os, socket, sys, time
src, vip, flag = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.create_connection((vip, 80), timeout=8, source_address=(src, 0))
s.sendall(b'GET / HTTP/1.1\r\nHost: v\r\n\r\n')
print('first', s.recv(4096).split(b'\r\n\r\n')[-1].decode().strip(), flush=True)
while not os.path.exists(flag):
    time.sleep(0.05)
t0 = time.time()
try:
    s.sendall(b'GET / HTTP/1.1\r\nHost: v\r\n\r\n')
    d = s.recv(4096)
    print('answer' if d else 'closed', int((time.time() - t0) * 1000), flush=True)
except ConnectionResetError:
    print('reset', int((time.time() - t0) * 1000), flush=True)
except socket.timeout:
    print('timeout', int((time.time() - t0) * 1000), flush=True)
PY
tb_in cli timeout 20 "$PY" "$TB_DIR/idle.py" "$(tb_client4 $c)" "$TB_VIP4" "$TB_DIR/go" >"$TB_DIR/idle.out" 2>&1 &
ipid=$!
for i in $(seq 50); do grep -qs '^first' "$TB_DIR/idle.out" && break; sleep 0.1; done
check "on-down reset: client $c holds an idle connection to be3 ($(head -1 "$TB_DIR/idle.out"))" \
	grep -q '^first be3' "$TB_DIR/idle.out"
ip -n "$TB-be3" link set eth0 down
wait_health "$B3" down 10 >/dev/null
touch "$TB_DIR/go"
wait $ipid
res=$(tail -1 "$TB_DIR/idle.out")
check "on-down reset: its next request is answered with a RST at once ($res ms)" \
	[ "${res%% *}" = reset -a "${res##* }" -lt 1000 ]
ip -n "$TB-be3" link set eth0 up
wait_health "$B3" up 10 >/dev/null

# every backend down: fail-open
for b in 1 2 3; do kill "$(cat "$TB_DIR/be$b/nginx.pid")"; done
for b in $B1 $B2 $B3; do wait_health "$b" down 10 >/dev/null; done
check "every backend down: the daemon says it sends to all of them" \
	wait_log "vip $V: every backend is down: sending to all of them (fail-open)"
nb0=$(jget "$(limpetctl -j stats)" "[x['packets'] for x in d['reasons'] if x['reason']=='drop_no_backend'][0]")
tb_in cli curl -s -m 2 --interface "$(tb_client4 5)" "$URL" >/dev/null
nb1=$(jget "$(limpetctl -j stats)" "[x['packets'] for x in d['reasons'] if x['reason']=='drop_no_backend'][0]")
check "fail-open: a new connection is still sent to a backend, not dropped ($nb0 -> $nb1 drop_no_backend)" [ "$nb0" = "$nb1" ]

# the check is part of the configuration: save shows it, applying the same again changes nothing
limpetctl save >"$TB_DIR/saved.conf"
check "save prints the check" grep -q "check http / expect 200-399 check-interval 1 check-timeout 1 rise 2 fall 2 slowstart 3 on-down reset" "$TB_DIR/saved.conf"
check "save then apply: nothing changes" [ "$(limpetctl -j apply "$TB_DIR/saved.conf")" = '{"changes":[]}' ]
t_done
