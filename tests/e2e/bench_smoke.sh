#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Keeps make bench working: a very short run of the per-packet benchmark (not a timed test:
# only that every case ran, took the expected path, and printed a figure).
. "$(dirname "$0")/lib.sh"
out=$("$E2E_ROOT/build/bench_xdp" 0.05 1 2>&1)
rc=$?
check "bench_xdp ran every case on its expected verdict (exit $rc)" [ $rc -eq 0 ]
rows=$(echo "$out" | grep -cE '^\| (floor|limpet)')
check "bench_xdp printed 9 rows ($rows)" [ "$rows" -eq 9 ]
check "every row has a positive ns/packet figure" \
	bash -c "echo '$out' | grep -E '^\| (floor|limpet)' | awk -F'|' '\$3+0 <= 0 {exit 1}'"
t_done
