#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# A WebSocket client with a session token: a long exchange through limpet, then a reconnect from
# another client address that lands on the same backend (the real-time app's case).
. "$(dirname "$0")/lib.sh"
TB=lptokw$$
trap tb_cleanup EXIT
VIP=203.0.113.37

tb_setup 3 20 || { not_ok "testbed"; t_done; exit 1; }
tb_attach || { not_ok "attach"; t_done; exit 1; }
for b in 1 2 3; do
	ip netns exec "$TB-be$b" "$PY" "$E2E_ROOT/tools/ws_name.py" server "be$b" 8765 &
done
limpetctl vip add $VIP:8765/tcp policy token token query session_id
for b in 1 2 3; do limpetctl backend add $VIP:8765/tcp "$(tb_backend4 $b)"; done
sleep 1
ws() { tb_try tb_in cli "$PY" "$E2E_ROOT/tools/ws_name.py" client "ws://$VIP:8765/ws?session_id=$1" "$2" "$3" 2>"$TB_DIR/ws.err"; }

ws rider-42 "$(tb_client4 0)" 10 >"$TB_DIR/w1"
n1=$(wc -l <"$TB_DIR/w1")
b1=$(sort -u "$TB_DIR/w1")
nb1=$(echo "$b1" | wc -l)
check "WebSocket session for 10 s: $n1 messages answered, all by one backend ($b1)" \
	[ $((n1 >= 20 && nb1 == 1)) -eq 1 ]
ws rider-42 "$(tb_client4 7)" 2 >"$TB_DIR/w2"
b2=$(sort -u "$TB_DIR/w2")
check "WebSocket reconnect from another address: same backend ($b2 = $b1)" [ "$b2" = "$b1" ]
others=$(for s in a b c d e f g h i; do ws "rider-$s" "$(tb_client4 3)" 0 | head -1; done | sort -u | wc -l)
check "other WebSocket sessions from one address spread over backends ($others)" [ "$others" -ge 2 ]
[ -s "$TB_DIR/ws.err" ] && note "client stderr: $(head -3 "$TB_DIR/ws.err")"
t_done
