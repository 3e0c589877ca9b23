#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet's whole test suite: unit, packet and end-to-end. Ends with "N passed, N failed".
# Needs root and a kernel with BPF; without them every suite is skipped loudly, and with
# CI=true a skip counts as a failure.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
log_dir=$(mktemp -d /tmp/limpet-check.XXXXXX)

count_tap() { # FILE SUITE
	local p f
	p=$(grep -cE '^ok ' "$1")
	f=$(grep -cE '^not ok ' "$1")
	passed=$((passed + p))
	failed=$((failed + f))
	grep -E '^not ok ' "$1" | sed "s|^|  [$2] |"
	echo "$2: $p passed, $f failed"
}

skip() {
	echo "SKIP: $*" >&2
	skipped=$((skipped + 1))
}

run_suite() { # NAME CMD...
	local name=$1 out=$log_dir/${1//\//-}.log rc
	shift
	echo "== $name"
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 77 ]; then
		skip "$name: $(grep -m1 '^SKIP' "$out")"
		return
	fi
	count_tap "$out" "$name"
	if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$out"; then
		echo "  [$name] exited $rc without a failing test; last lines:"
		tail -n 15 "$out" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	if grep -qE '^not ok ' "$out"; then
		echo "  log: $out"
		tail -n 30 "$out" | grep -vE '^(ok|not ok) ' | tail -n 12 | sed 's/^/    /'
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	skip "tests need root (BPF, network namespaces)"
elif [ ! -e /sys/kernel/btf/vmlinux ]; then
	skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
else
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	export CMOCKA_MESSAGE_OUTPUT=TAP
	run_suite unit build/test_unit
	run_suite packet build/test_bpf
	for t in tests/e2e/*.sh; do
		[ "$(basename "$t")" = lib.sh ] && continue
		[ -n "${LIMPET_TESTS:-}" ] && ! echo "$t" | grep -qE "$LIMPET_TESTS" && continue
		run_suite "e2e/$(basename "$t" .sh)" timeout 600 bash "$t"
	done
fi

if [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ]; then
	echo "CI=true: $skipped skipped suite(s) count as failures"
	failed=$((failed + skipped))
fi
[ "$failed" -eq 0 ] && rm -rf "$log_dir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
