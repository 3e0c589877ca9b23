#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Malformed packets are never rewritten: well-formed frames for this test's VIPs (every policy,
# v4/v6, TCP/UDP/ICMP, options, fragments, VLAN, extension and Routing headers, padding) and the
# Katran corpus, mutated with a fixed seed (LIMPET_FUZZ_FRAMES, default 200000) across every
# mutation class, run through `limpet replay` and judged frame by frame by a parser of the test's
# own (tools/fuzz_frames.py), which shares no code with the datapath or replay's verifier.
. "$(dirname "$0")/lib.sh"
TB=lfuzz$$
trap tb_cleanup EXIT
CORPUS=${LIMPET_CORPUS:-$E2E_ROOT/../shared/corpus/katran-fixtures}/katran_fixtures_all_inputs.pcap
if [ ! -f "$CORPUS" ]; then
	echo "SKIP: Katran corpus not found at $CORPUS (set LIMPET_CORPUS to the katran-fixtures directory)"
	exit 77
fi
FRAMES=${LIMPET_FUZZ_FRAMES:-200000}
SEED=${LIMPET_FUZZ_SEED:-9}
TB_DIR=$(mktemp -d)
ip netns add "$TB-lb"
ip -n "$TB-lb" link add r0 type veth peer name r1
ip -n "$TB-lb" link set r0 up
limpet attach dev r0 >/dev/null

# one backend per VIP (the generator knows who replies); what fuzz_frames.py expects
vip_be() { # VIP BACKEND [VIP OPTIONS...]
	local v=$1 b=$2
	shift 2
	limpetctl vip add "$v" "$@" >/dev/null && limpetctl backend add "$v" "$b" >/dev/null
}
vip_be 10.210.0.1:80/tcp 10.98.0.1
vip_be 10.210.0.1:53/udp 10.98.0.1
vip_be 10.210.0.2:0/tcp 10.98.0.2
vip_be 10.210.0.3:80/tcp 10.98.0.3 policy five-tuple
vip_be 10.210.0.4:443/tcp 10.98.0.4 policy token token query session_id
vip_be 10.210.0.5:4000/udp 10.98.0.5 policy token token udp offset 2 len 8
vip_be "[fd10::1]:80/tcp" fd98::1
vip_be "[fd10::1]:53/udp" fd98::1
vip_be "[fd10::4]:443/tcp" fd98::4 policy token token query session_id
# the Katran corpus's VIPs (tests/e2e/replay.sh)
for v in 10.200.1.1:80/udp 10.200.1.1:80/tcp 10.200.1.2:0/tcp 10.200.1.3:80/tcp 10.200.1.4:0/tcp \
	10.200.1.5:443/udp 10.200.1.6:80/udp; do
	limpetctl vip add $v >/dev/null
	for b in 10.0.0.1 10.0.0.2 10.0.0.3; do limpetctl backend add $v $b >/dev/null; done
done
for v in "[fc00:1::1]:80/tcp" "[fc00:1::2]:443/udp"; do
	limpetctl vip add "$v" >/dev/null
	for b in fc00::1 fc00::2 fc00::3; do limpetctl backend add "$v" $b >/dev/null; done
done
check "the test's VIPs configured" [ "$(limpetctl -j vip list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["vips"]))')" = 18 ]

t0=$(date +%s)
$PY "$E2E_ROOT/tools/fuzz_frames.py" gen "$SEED" "$FRAMES" "$TB_DIR/in.pcap" "$TB_DIR/classes" "$CORPUS"
t1=$(date +%s)
timeout 300 "$TB_BUILD/limpet" -i "$TB" -j replay "$TB_DIR/in.pcap" out "$TB_DIR/out.pcap" \
	>"$TB_DIR/replay.json" 2>"$TB_DIR/replay.err"
rc=$?
t2=$(date +%s)
check "limpet replay exits 0 over $FRAMES mutated frames (rc $rc: $(head -c 200 "$TB_DIR/replay.err"))" [ $rc -eq 0 ]
note "generate $((t1 - t0)) s, replay $((t2 - t1)) s"
$PY "$E2E_ROOT/tools/fuzz_frames.py" check "$TB_DIR/in.pcap" "$TB_DIR/out.pcap" "$TB_DIR/replay.json" \
	"$TB_DIR/classes" | sed -E "s/^(not )?ok [0-9]+ - /&fuzz: /; /^1\.\./d" >"$TB_DIR/tap"
while IFS= read -r l; do
	case $l in
	"ok "*) ok "${l#* - }" ;;
	"not ok "*) not_ok "${l#* - }" ;;
	*) echo "$l" ;;
	esac
done <"$TB_DIR/tap"
note "check $(($(date +%s) - t2)) s"
t_done
