#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Where a DSR client ACK's time goes in limpet_xdp: push.sh's ipip round alone (clients
# acknowledging downloads), perf sampling the whole machine beside it; the samples inside
# limpet_xdp grouped by what they were doing, and scaled to the round's BPF run time per packet.
#   ack_profile.sh [SECONDS]        (perf, root; ~SECONDS + 40 s)
#   PUSH_LINKS=wire ack_profile.sh   push.sh's other client link (default veth: frequent ACKs)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-20}
command -v perf >/dev/null || { echo "Error: ack_profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 2; }
out=$(mktemp -d /tmp/ackprof.XXXXXX)
pid=
trap '[ -n "$pid" ] && wait "$pid"; rm -rf "$out"' EXIT

LINK=${PUSH_LINKS:-veth}
case $LINK in wire | veth) ;; *) echo "Error: ack_profile.sh: PUSH_LINKS: one of wire, veth" >&2; exit 2 ;; esac
PUSH_MODES=ipip PUSH_LINKS=$LINK "$ROOT/tools/bench/push.sh" $((SECS + 10)) 1 12 >"$out/push.txt" 2>&1 &
pid=$!
for ((i = 0; i < 600; i++)); do # the table's header is printed just before the round's load
	grep -q '^| round' "$out/push.txt" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
sleep 3
perf record -q -F 4999 -a -g -o "$out/perf.data" -- sleep "$SECS" 2>/dev/null
wait "$pid" || { cat "$out/push.txt" >&2; echo "Error: ack_profile.sh: push.sh failed" >&2; exit 1; }
pid=
row=$(grep "^| 1 | $LINK | ipip" "$out/push.txt") || { echo "Error: ack_profile.sh: no ipip row" >&2; exit 1; }
# ns of BPF run time per client packet: the row's BPF ms over its client packets
ns=$(awk -F'|' '{printf "%.0f", $6 * 1e6 / $9}' <<<"$row")
echo "push.sh ipip round ($LINK client link): $ns ns of BPF run time per client packet (an ACK, nearly all)"
perf script -i "$out/perf.data" -F ip,sym 2>/dev/null | awk -v ns="$ns" '
	BEGIN { RS = "" }
	/_limpet_xdp/ {
		n = split($0, line, "\n"); split(line[1], f, " "); leaf = f[2]; prog = ""
		for (i = 1; i <= n && prog == ""; i++)
			if (match(line[i], /bpf_prog_[0-9a-f]+_[a-z0-9_]+/))
				prog = substr(line[i], RSTART, RLENGTH)
		sub(/^bpf_prog_[0-9a-f]+_/, "", prog)
		if (leaf ~ /^bpf_prog_/) c = prog "'"'"'s own code"
		else if (leaf ~ /htab|lookup_nulls|memcmp|jhash/)
			c = "hash table lookup called from " prog (prog == "limpet_xdp" ? " (the VIP)" : prog == "dsr_fast" ? " (the flow)" : "")
		else if (leaf ~ /ktime|timespec|clock|tsc/) c = "clock"
		else c = "other kernel code (" leaf ")"
		s[c]++; total++
	}
	END {
		if (!total) { print "no samples inside limpet_xdp"; exit 1 }
		printf "%d samples inside limpet_xdp:\n", total
		for (c in s) printf "%5.1f %%  ~%3.0f ns  %s\n", 100 * s[c] / total, ns * s[c] / total, c | "sort -rn"
	}'
