#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make bench: limpet's per-packet cost beside floor programs, measured in the same run.
# QUICK=1 for a short try (0.2 s per case, 1 round). Writes build/bench-report.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "Error: make bench loads BPF programs and creates a network namespace: run it as root" >&2
	exit 1
fi
secs=1 rounds=3 requests=200 rps_secs=8
[ "${QUICK:-0}" = 1 ] && secs=0.2 rounds=1 requests=50 rps_secs=3
report=build/bench-report.md
{
	echo "# limpet per-packet cost"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r)."
	echo "Command: \`build/bench_xdp $secs $rounds\` (BPF_PROG_TEST_RUN, a fresh packet per run, ≥ $secs s per case per round)."
	echo "Floor 3 is parse + one hash lookup + swap MACs; *net* subtracts \`return XDP_TX\` (the test-run timer's own cost)."
	echo
	build/bench_xdp "$secs" "$rounds"
	echo
	echo "## Time to first byte"
	echo
	echo "Command: \`tools/bench/ttfb.sh $requests $rounds\` (namespace testbed, nginx backend, one curl, a new connection per request)."
	echo
	tools/bench/ttfb.sh "$requests" "$rounds"
	echo
	echo "## Requests per second and CPU, a new connection per request"
	echo
	echo "Command: \`tools/bench/rps.sh $rps_secs $rounds\` (wrk -t2 -c32, \`Connection: close\`, session ids from tools/bench/sid.lua; CPU from /proc/stat over each run)."
	echo
	tools/bench/rps.sh "$rps_secs" "$rounds"
} | tee "$report.tmp"
mv "$report.tmp" "$report"
echo
echo "report: $report"
