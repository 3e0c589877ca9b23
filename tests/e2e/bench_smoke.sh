#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Keeps make bench working (not a timed test: only that every piece ran and measured something):
# the per-packet benchmark, the Maglev benchmark, and the peers benchmark's quick topology with
# direct and limpet ip-hash for a second each, a few sessions, the report with its plots, push.sh
# and ctl_scale.sh at their smallest.
. "$(dirname "$0")/lib.sh"
out=$("$E2E_ROOT/build/bench_xdp" 0.05 1 2>&1)
rc=$?
check "bench_xdp ran every case on its expected verdict (exit $rc)" [ $rc -eq 0 ]
rows=$(echo "$out" | grep -cE '^\| (floor|limpet|decap)')
check "bench_xdp printed 13 rows ($rows)" [ "$rows" -eq 13 ]
check "bench_xdp put the ipip encapsulation beside the NAT rewrite" grep -q "ipip encapsulation per packet / NAT rewrite" <<<"$out"
check "  and the decap's mode tc beside its XDP program" grep -q "decap mode tc per packet / decap XDP" <<<"$out"
check "every row has a positive ns/packet figure" \
	awk -F'|' '/^\| (floor|limpet|decap)/ && $3 + 0 <= 0 {exit 1}' <<<"$out"

out=$("$E2E_ROOT/build/maglev_bench" 1)
check "maglev_bench: 6 rows, every table within 1 % of perfect balance" \
	bash -c "echo '$out' | awk -F'|' '/^\| [0-9]/ {n++; if (\$5 + 0 > 1.01 || \$5 + 0 < 1) bad = 1} END {exit !(n == 6 && !bad)}'"

dir=$(mktemp -d /tmp/lpsmoke.XXXXXX)
trap 'rm -rf "$dir"' EXIT
OUT=$dir TB=lpsmk$$ BALANCERS="direct limpet-ip" SESSION_BALANCERS="limpet-ip" WRK_CONNS=20 WS_N=4 WS_SECS=3 \
	"$E2E_ROOT/tools/bench/peers.sh" 1 1 20 3 >"$dir/log" 2>&1
rc=$?
check "peers.sh ran (exit $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/# /' "$dir/log" | tail -20
check "two balancers x two modes measured with requests answered" \
	awk -F'\t' '$4 > 0 && $7 > 0 {n++} END {exit n != 4}' "$dir/results.tsv"
check "no namespace or pin of the run is left" bash -c "! ip netns list | grep -q lpsmk$$ && [ ! -e /sys/fs/bpf/limpet/lpsmk$$ ]"
"$E2E_ROOT/tools/bench/report.py" "$dir" 2>"$dir/report.err"
check "report.py wrote the report" [ -s "$dir/peers.md" ]
row=$(grep '^| limpet ip-hash | ' "$dir/peers.md" | tail -1)
note "$row"
# sticky, 0 moved on add, removal moves only be2's sessions: limpet's own guarantees
check "limpet ip-hash: 100 % sticky, 0 % moved on add, 0 % needless on removal, WebSockets kept" \
	bash -c "echo '$row' | awk -F'|' '{exit !(\$3 ~ /100.0 %/ && \$6 ~ / 0.0 %/ && \$10 ~ / 0.0 %/ && \$11 ~ / 4 \\/ 4/)}'"
out=$(TB=lpsps$$ "$E2E_ROOT/tools/bench/push.sh" 1 1 4 2>&1)
rc=$?
check "push.sh measured NAT and ipip server push, each counted as what it says (exit $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || echo "$out" | sed 's/^/# /' | tail -5
check "push.sh put DSR's balancer CPU per GB beside NAT's, for both client links (wire, veth)" \
	[ "$(grep -c "^Balancer CPU per GB sent.*DSR / NAT = " <<<"$out")" -eq 2 -a -n "$(grep '^Client link: wire' <<<"$out")" -a -n "$(grep '^Client link: veth' <<<"$out")" ]
check "no namespace or pin of push.sh is left" bash -c "! ip netns list | grep -q lpsps$$ && [ ! -e /sys/fs/bpf/limpet/lpsps$$ ]"
out=$(TB=lpscs$$ SLOWSTART=3 "$E2E_ROOT/tools/bench/ctl_scale.sh" 2 5 2>&1)
rc=$?
[ $rc -eq 0 ] || echo "$out" | sed 's/^/# /' | tail -5
check "ctl_scale.sh applied 10 backends, the daemon found all 10 down, then all 10 back (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q 'all 10 backends unreachable: 10 down after' <<<'$out' &&
		grep -q 'all 10 backends answer again: 10 back with their whole share' <<<'$out'"
check "no namespace, pin or lock file of ctl_scale.sh is left" bash -c "! ip netns list | grep -q lpscs$$ && [ ! -e /sys/fs/bpf/limpet/lpscs$$ ] && [ ! -e /run/limpet/lpscs$$.run ]"
check "three plots written" bash -c "[ -s '$dir/rps.png' ] && [ -s '$dir/cpu.png' ] && [ -s '$dir/moved.png' ]"
t_done
