#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet run, the daemon, with real nginx backends and curl clients: it attaches and applies its
# file; a second one is refused; SIGHUP applies an edited file (only a removed backend's clients
# move) and survives a broken one; the sweeper removes closed flows; kill -9, a restart and
# SIGTERM lose no request and disturb no session (fail-static); destroy then run restores all.
. "$(dirname "$0")/lib.sh"
TB=lpdmn$$
DPID=
trap '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null; tb_cleanup' EXIT
URL=http://$TB_VIP4/

tb_setup 4 60 || { not_ok "testbed"; t_done; exit 1; }
B1=$(tb_backend4 1) B2=$(tb_backend4 2) B3=$(tb_backend4 3) B4=$(tb_backend4 4)
conf=$TB_DIR/limpet.conf
cat >"$conf" <<EOF
attach dev lbc
attach dev lbb
flows sweep closed 1
vip add $TB_VIP4:80/tcp
backend add $TB_VIP4:80/tcp $B1
backend add $TB_VIP4:80/tcp $B2
backend add $TB_VIP4:80/tcp $B3
EOF
# start_daemon: in the background, its log appended to $TB_DIR/daemon.log; waits for "running"
start_daemon() {
	local n0 i
	n0=$(cat "$TB_DIR/daemon.log" 2>/dev/null | grep -c 'running from')
	nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" run -c "$conf" 2>>"$TB_DIR/daemon.log" &
	DPID=$!
	for i in $(seq 100); do
		[ "$(grep -c 'running from' "$TB_DIR/daemon.log")" -gt "$n0" ] 2>/dev/null && return 0
		kill -0 $DPID 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
wait_log() { wait_grep "$TB_DIR/daemon.log" "$1" "$2"; } # PATTERN SECONDS

check "limpet run attaches both devices and applies its file" start_daemon
check "its log says what it did, one line each" \
	grep -q "limpet\[$TB\]: backend add $TB_VIP4:80/tcp $B3 weight 1" "$TB_DIR/daemon.log"
declare -A be_of
for ((c = 0; c < 60; c++)); do be_of[$c]=$(tb_get "$(tb_client4 $c)" "$URL"); done
n3=0
for ((c = 0; c < 60; c++)); do [ "${be_of[$c]}" = be3 ] && n3=$((n3 + 1)); done
check "60 clients served through the daemon's instance, $n3 on be3" \
	[ "$(printf '%s\n' "${be_of[@]}" | grep -c '^be')" -eq 60 -a $n3 -gt 0 ]
out=$(nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" run -c "$conf" 2>&1)
rc=$?
check "a second daemon on the instance: refused, names the first ($out)" \
	[ $rc -eq 1 -a -n "$(echo "$out" | grep "is run by a limpet run daemon (pid $DPID)")" ]
out=$(limpet destroy 2>&1)
rc=$?
check "destroy while the daemon runs: refused in one line, names it ($out)" \
	[ $rc -eq 1 -a "$(echo "$out" | wc -l)" -eq 1 -a -n "$(echo "$out" | grep "pid $DPID")" ]
check "  the instance serves on" [ -n "$(tb_get "$(tb_client4 1)" "$URL")" ]

# the sweeper: the 60 connections above closed; closed 1 s, every 5 s
swept=0
wait_log "flows sweep: [0-9]* removed" 10 && swept=1
check "the sweeper removes closed flows on its own ($(grep -m1 'flows sweep' "$TB_DIR/daemon.log"))" [ $swept -eq 1 ]

# SIGHUP with a broken file: logged with its line, nothing changes, the daemon runs on
cp "$conf" "$TB_DIR/good.conf"
echo "backend add $TB_VIP4:80/tcp $B4 weight 0" >>"$conf"
before=$(limpetctl save)
kill -HUP $DPID
check "SIGHUP with a bad line: logged with file and line" wait_log "reload: $conf:8: .*nothing changed" 5
check "... nothing changed, the daemon still runs" [ "$(limpetctl save)" = "$before" ] && kill -0 $DPID
# SIGHUP with an edited file: be3 out, be4 in
sed -e "s|^backend add $TB_VIP4:80/tcp $B3|backend add $TB_VIP4:80/tcp $B4|" "$TB_DIR/good.conf" >"$conf"
kill -HUP $DPID
check "SIGHUP with an edited file: be3 removed, be4 added (logged)" \
	wait_log "backend add $TB_VIP4:80/tcp $B4 weight 1" 5
moved=0 movedv=0
for ((c = 0; c < 60; c++)); do
	g=$(tb_get "$(tb_client4 $c)" "$URL")
	if [ "${be_of[$c]}" = be3 ]; then
		[ -n "$g" ] && [ "$g" != be3 ] && movedv=$((movedv + 1))
		be_of[$c]=$g
	else
		[ "$g" = "${be_of[$c]}" ] || moved=$((moved + 1))
	fi
done
check "after SIGHUP: be3's $n3 clients served elsewhere ($movedv), no other client moved ($moved)" \
	[ $movedv -eq $n3 -a $moved -eq 0 ]

# fail-static: kill -9 during a download, traffic flows on; a restart and SIGTERM lose nothing
tb_try tb_in cli curl -s --max-time 30 --interface "$(tb_client4 0)" -o "$TB_DIR/slow.out" "$URL/slow.bin" &
dl=$!
sleep 0.5
kill -9 $DPID
wait $DPID 2>/dev/null
DPID=
same=0
for ((c = 1; c < 30; c++)); do [ "$(tb_get "$(tb_client4 $c)" "$URL")" = "${be_of[$c]}" ] && same=$((same + 1)); done
check "after kill -9: 29 of 29 clients served on their backends ($same)" [ $same -eq 29 ]
lines=$(wc -l <"$TB_DIR/daemon.log")
check "a restarted daemon takes the instance over" start_daemon
check "... and changes nothing: the pinned state already matches its file" \
	[ -z "$(tail -n +$((lines + 1)) "$TB_DIR/daemon.log" | grep -E 'vip (add|del)|backend (add|del)')" ]
kill -TERM $DPID
wait $DPID
rc=$?
DPID=
check "SIGTERM: the daemon exits 0 and says the datapath keeps forwarding" \
	[ $rc -eq 0 -a -n "$(grep 'keeps forwarding' "$TB_DIR/daemon.log")" ]
wait $dl
check "a download across kill -9, restart and SIGTERM finished byte-exact" cmp -s "$TB_DIR/slow.out" "$TB_DIR/www/big.bin"
same=0
for ((c = 30; c < 60; c++)); do [ "$(tb_get "$(tb_client4 $c)" "$URL")" = "${be_of[$c]}" ] && same=$((same + 1)); done
check "after SIGTERM: 30 of 30 clients served on their backends ($same)" [ $same -eq 30 ]

# destroy, then run: everything back from the file
limpet destroy >/dev/null
check "after destroy, nothing answers" [ -z "$(tb_in cli curl -s -m 2 --interface "$(tb_client4 1)" "$URL")" ]
check "limpet run restores the instance from its file" start_daemon
check "... and clients are served again ($(tb_get "$(tb_client4 1)" "$URL"))" \
	[ -n "$(tb_get "$(tb_client4 1)" "$URL")" ]
t_done
