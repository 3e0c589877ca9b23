#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Token VIPs under faults: a backend that refuses, a backend that ignores its first SYNs, ~3 %
# random loss both ways, and a SYN flood. Faults come from tools/lossy.bpf.c (no netem here).
. "$(dirname "$0")/lib.sh"
TB=lptokf$$
trap tb_cleanup EXIT
LOSSY=$E2E_ROOT/build/lossy.bpf.o

tb_setup 3 40 || { not_ok "testbed"; t_done; exit 1; }
head -c 20971520 /dev/urandom >"$TB_DIR/www/big20.bin"
head -c 2097152 /dev/urandom >"$TB_DIR/up2.bin"
tb_attach || { not_ok "attach"; t_done; exit 1; }
ev() { jget "$(limpetctl -j stats)" "[x['count'] for x in d['events'] if x['event']=='$1'][0]"; }
get() { local src=$1 url=$2; shift 2; tb_in cli curl -s -m 20 --interface "$src" "$@" "$url" | tr -d '\r'; }

# a backend that refuses: the client gets a reset at once, from the VIP
limpetctl vip add 203.0.113.34:80/tcp policy token token query sid
limpetctl backend add 203.0.113.34:80/tcp 10.99.0.1:82
f0=$(ev bind_failed)
t0=$(date +%s%N)
tb_in cli curl -s -m 5 --interface "$(tb_client4 0)" "http://203.0.113.34/?sid=x" >/dev/null
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "refusing backend: curl sees a reset (exit $rc, 56 = reset) after $ms ms" [ $((rc == 56 && ms < 1000)) -eq 1 ]
check "refusing backend: bind_failed counted ($f0 -> $(ev bind_failed))" [ "$(ev bind_failed)" -eq $((f0 + 1)) ]

# a backend whose first two SYNs are lost: the client's retransmissions resend the SYN
limpetctl vip add 203.0.113.35:80/tcp policy token token query sid
limpetctl backend add 203.0.113.35:80/tcp "$(tb_backend4 2)"
tb_in be2 tc qdisc add dev eth0 clsact
tb_in be2 tc filter add dev eth0 ingress bpf da obj "$LOSSY" sec classifier
r0=$(ev syn_retry)
out=$(get "$(tb_client4 1)" "http://203.0.113.35/?sid=retry" -w ' %{time_total}')
out=$(echo $out)
check "backend dropping its first 2 SYNs: the request completes ($out s)" [ "${out%% *}" = be2 ]
check "backend dropping its first 2 SYNs: backend SYN resent ($r0 -> $(ev syn_retry))" [ "$(ev syn_retry)" -ge $((r0 + 2)) ]

# a backend that never answers: the binding is swept after its timeout
limpetctl vip add 203.0.113.38:80/tcp policy token token query sid
limpetctl backend add 203.0.113.38:80/tcp 10.99.0.77
tb_in cli curl -s -m 1 --interface "$(tb_client4 5)" "http://203.0.113.38/?sid=void" >/dev/null
nb=$(limpetctl -j flows 203.0.113.38:80/tcp | grep -o '"state":"binding"' | wc -l)
sleep 2
sw=$(jget "$(limpetctl -j flows sweep binding 1)" "d['swept']")
left=$(limpetctl -j flows 203.0.113.38:80/tcp | grep -o '"state":"binding"' | wc -l)
check "flows sweep: a binding to a silent backend ($nb) is removed ($sw swept, $left left)" \
	[ $((nb >= 1 && sw >= 1 && left == 0)) -eq 1 ]

# ~3 % loss both ways on the client's link
limpetctl vip add 203.0.113.36:80/tcp policy token token query sid
for b in 1 2 3; do limpetctl backend add 203.0.113.36:80/tcp "$(tb_backend4 $b)"; done
lost() { # packets the loss programs dropped so far, all their maps together
	local n=0 id
	for id in $(bpftool -j map show | $PY -c 'import json,sys; print(" ".join(str(m["id"]) for m in json.load(sys.stdin) if m.get("name") == "lossy_counts"))'); do
		n=$((n + $(bpftool -j map lookup id "$id" key 0 0 0 0 | $PY -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(int.from_bytes(bytes(int(x, 16) for x in v), "little") if isinstance(v, list) else v)')))
	done
	echo $n
}
ip -n "$TB-cli" -force link set dev cli0 xdp obj "$LOSSY" sec xdp
tb_in cli tc qdisc add dev cli0 clsact
tb_in cli tc filter add dev cli0 egress bpf da obj "$LOSSY" sec tc
get "$(tb_client4 2)" "http://203.0.113.36/files/big20.bin?sid=lossy1" -o "$TB_DIR/dl.bin"
check "3 % loss both ways: 20 MiB download byte-exact" cmp -s "$TB_DIR/dl.bin" "$TB_DIR/www/big20.bin"
up=$(get "$(tb_client4 3)" "http://203.0.113.36/upload?sid=lossy2" --data-binary @"$TB_DIR/up2.bin")
stored=$(ls -t "$TB_DIR/${up%% *}/body/"* 2>/dev/null | head -1)
check "3 % loss both ways: 2 MiB upload byte-exact at ${up%% *}" cmp -s "$stored" "$TB_DIR/up2.bin"
dropped=$(lost)
check "3 % loss both ways: the loss programs dropped $dropped packets" [ "$dropped" -gt 100 ]
ip -n "$TB-cli" -force link set dev cli0 xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
tb_in cli tc qdisc del dev cli0 clsact

# a flood of SYNs from random sources keeps no state, and a real client is served during it
flows0=$(jget "$(limpet -j status)" "sum(t['used'] for t in d['tables'] if t['table'] != 'affinity')")
s0=$(ev synack_sent)
tb_in cli "$E2E_ROOT/tools/synflood.py" 203.0.113.36 80 100000 60 >"$TB_DIR/flood" &
fl=$!
sleep 1
served=$(get "$(tb_client4 4)" "http://203.0.113.36/?sid=during-flood")
wait $fl
sent=$(cat "$TB_DIR/flood")
s1=$(ev synack_sent)
flows1=$(jget "$(limpet -j status)" "sum(t['used'] for t in d['tables'] if t['table'] != 'affinity')")
check "SYN flood: $sent SYNs sent, $((s1 - s0)) answered with cookies" [ $((sent >= 100000 && s1 - s0 >= sent)) -eq 1 ]
check "SYN flood: a real client was served during it ($served)" [ "${served:0:2}" = be ]
check "SYN flood: no flow state created (flows $flows0 -> $flows1; the real client adds 1)" [ "$flows1" -le $((flows0 + 1)) ]
t_done
