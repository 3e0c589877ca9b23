#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Closed connections: limpet notes FIN and RST on its flows, so a client that later reaches the
# backend directly from the same address and port is not taken for the old connection, and
# `limpetctl flows sweep` removes closed flows.
. "$(dirname "$0")/lib.sh"
TB=lpclose$$
trap tb_cleanup EXIT
tb_setup 2 4 || { not_ok "testbed"; t_done; exit 1; }
tb_limpet_up 2 || { not_ok "limpet up"; t_done; exit 1; }
# Whichever side closes first keeps the tuple in TIME_WAIT: the client's refuses to bind the port
# again, the backend's accepts a new SYN only by chance (ISN or timestamp order). Without
# TIME_WAIT, what happens to the reused tuple is limpet's doing alone.
for ns in cli be1 be2; do tb_in "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0; done
src=$(tb_client4 0)
flow_state() { # CLIENT-PORT -> the flow's state column, or "none"
	limpetctl -j flows | $PY -c "import json,sys; r=[f['state'] for f in json.load(sys.stdin)['flows'] if f['client'].endswith(':$1')]; print(r[0] if r else 'none')"
}

# 1. an orderly close (the backend closes first: Connection: close)
be=$(tb_in cli curl -s --max-time 3 --interface "$src" --local-port 41000 -H 'Connection: close' "http://$TB_VIP4/" | tr -d '\r')
check "a request through the VIP from port 41000 ($be)" [ -n "$be" ]
sleep 0.2
st=$(flow_state 41000)
check "its flow is marked closed after FIN both ways ($st)" [ "$st" = "nat closed" ]
# 2. the same client address and port straight to that backend: the backend's SYN-ACK must not
# be taken for the closed VIP connection and rewritten to come from the VIP
n=${be#be}
direct=$(tb_in cli curl -s --max-time 3 --interface "$src" --local-port 41000 -H 'Connection: close' "http://$(tb_backend4 "${n:-1}")/" | tr -d '\r')
check "the same address and port straight to $be afterwards is answered ($direct)" [ "$direct" = "$be" ]
stale=$(limpetctl -j stats | $PY -c "import json,sys; print([r['packets'] for r in json.load(sys.stdin)['reasons'] if r['reason']=='pass_stale'][0])")
check "its SYN-ACK was counted pass_stale ($stale) and passed to the kernel" [ "$stale" -ge 1 ]
# 3. a new connection to the VIP on the same tuple reopens the flow
again=$(tb_in cli curl -s --max-time 3 --interface "$src" --local-port 41000 "http://$TB_VIP4/" | tr -d '\r')
check "the same tuple to the VIP again is served by $be ($again)" [ "$again" = "$be" ]
# 4. a client that aborts its connection (SO_LINGER 0: a RST, no FIN)
tb_in cli $PY -c "
import socket, struct
s = socket.create_connection(('$TB_VIP4', 80), timeout=3, source_address=('$src', 41001))
s.sendall(b'GET / HTTP/1.1\\r\\nHost: vip\\r\\n\\r\\n')
s.recv(1000)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()"
sleep 0.2
st=$(flow_state 41001)
check "an aborted connection's flow is marked closed by its RST ($st)" [ "$st" = "nat closed" ]
# 5. open flows stay, closed flows go
tb_in cli curl -s --max-time 5 --interface "$src" --local-port 41002 -o /dev/null "http://$TB_VIP4/slow.bin" &
cpid=$!
sleep 0.5
sw=$(jget "$(limpetctl -j flows sweep closed 0)" "d['swept']")
check "flows sweep closed 0 removed the two closed flows ($sw)" [ "$sw" = 2 ]
check "the open download's flow stays ($(flow_state 41002))" [ "$(flow_state 41002)" = "nat" ]
check "no closed flow is left" [ "$(flow_state 41000)$(flow_state 41001)" = "nonenone" ]
left=0
for m in flows halfopen; do
	left=$((left + $(bpftool map dump pinned "/sys/fs/bpf/limpet/$TB/$m" -j | $PY -c "import json,sys; print(len(json.load(sys.stdin)))")))
done
check "the flow tables hold only the open download's flow ($left)" [ "$left" -eq 1 ]
wait $cpid
t_done
