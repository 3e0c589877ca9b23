#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make bench: limpet beside HAProxy, NGINX and nftables on one namespace testbed (peers.sh),
# Maglev build time and quality, limpet's per-packet cost beside floor programs, and time to
# first byte. Writes build/bench/report.md with PNG plots beside it.
# QUICK=1: one short round of everything (a try, not figures to quote).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "Error: make bench loads BPF programs and creates network namespaces: run it as root" >&2
	exit 1
fi
secs=1 rounds=3 requests=200 peer_secs=6 peer_rounds=5 sessions=200 conns=10 fill=10000000
fuzz=1000000 push_secs=5
[ "${QUICK:-0}" = 1 ] && secs=0.2 rounds=1 requests=50 peer_secs=3 peer_rounds=1 conns=3 fill=1000000 fuzz=200000 push_secs=2
out=build/bench
mkdir -p "$out"
OUT=$out tools/bench/peers.sh "$peer_secs" "$peer_rounds" "$sessions" "$conns"
tools/bench/report.py "$out"
{
	echo "# limpet benchmark report"
	echo
	echo "## limpet beside the peers"
	echo
	cat "$out/peers.md"
	echo
	echo "## Maglev table build time and quality"
	echo
	echo "Command: \`build/maglev_bench $((rounds * 2 + 1))\` (the control plane's table builder; one backend from the middle removed)."
	echo
	build/maglev_bench $((rounds * 2 + 1))
	echo
	echo "## limpet per-packet cost"
	echo
	echo "Command: \`build/bench_xdp $secs $rounds\` (BPF_PROG_TEST_RUN, a fresh packet per run, ≥ $secs s per case per round)."
	echo "Floor 3 is parse + one hash lookup + swap MACs; *net* subtracts \`return XDP_TX\` (the test-run timer's own cost)."
	echo
	build/bench_xdp "$secs" "$rounds"
	echo
	echo "## The established path at $fill concurrent flows"
	echo
	echo "Command: \`build/bench_xdp $secs $rounds $fill\` (the established table sized and filled to $fill flows; the last row takes a different flow every run)."
	echo
	build/bench_xdp "$secs" "$rounds" "$fill" 2>&1
	echo
	echo "## Malformed packets"
	echo
	echo "Command: \`LIMPET_FUZZ_FRAMES=$fuzz tests/e2e/fuzz.sh\` (well-formed frames for the test's VIPs and the Katran corpus, mutated with seed 9, run through \`limpet replay\`, every frame judged by \`tools/fuzz_frames.py\`'s own parser; per class: frames, rewritten, the commonest reasons (\`error\`: a frame the kernel will not run, shorter than an Ethernet header))."
	echo
	echo '```'
	LIMPET_FUZZ_FRAMES=$fuzz bash tests/e2e/fuzz.sh 2>&1 | grep -E '^(ok|not ok|#)' || true
	echo '```'
	echo
	echo "## Server push: NAT vs ipip DSR"
	echo
	echo "Command: \`tools/bench/push.sh $push_secs $rounds 12\` (12 clients downloading 32 MiB again and again from 3 nginx backends through a one-armed limpet; the balancer's CPU is its BPF programs' run time, \`kernel.bpf_stats_enabled\`; each round checks that NAT translated the backends' packets and DSR none; a third round without limpet gives the machine's cost of the traffic alone; each round twice, the clients behind a link that sends MTU-sized frames as a wire does, and behind the veth as it is, which hands them the backends' GSO packets in DSR)."
	echo
	tools/bench/push.sh $push_secs "$rounds" 12
	echo
	echo "## Time to first byte"
	echo
	echo "Command: \`tools/bench/ttfb.sh $requests $rounds\` (namespace testbed, nginx backend, one curl, a new connection per request)."
	echo
	tools/bench/ttfb.sh "$requests" "$rounds"
} >"$out/report.md.tmp"
mv "$out/report.md.tmp" "$out/report.md"
cat "$out/report.md"
echo
echo "report: $out/report.md (plots: $out/*.png)"
