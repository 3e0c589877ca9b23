# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# TAP helpers for limpet's end-to-end scripts; sources the testbed. Every script traps cleanup.
set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$E2E_ROOT/tools/testbed.sh"
PY=/usr/bin/python3
T_N=0
T_FAILED=0

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# check NAME CONDITION-COMMAND... : ok when the command succeeds
check() { local name=$1; shift; if "$@" >/dev/null; then ok "$name"; else not_ok "$name" "failed: $*"; fi; }
note() { echo "# $*"; }
t_done() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; }

wait_grep() { # FILE PATTERN SECONDS: PATTERN (grep BRE) shows up in FILE (a daemon's log) within SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# JSON field from a limpetctl -j document: jq-like path via python (stdlib only)
jget() { # JSON PYEXPR (d is the document)
	$PY -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"
}

maglev_table() { # INSTANCE VIP: the VIP's Maglev map, one slot's backend id per line (an ipip
	# VIP's second half: each slot's previous owner). A rebuild may swap the map between reading
	# its id and dumping it (the old one is gone then): read again.
	local id inner try
	id=$(jget "$("$TB_BUILD/limpetctl" -i "$1" -j vip list)" "[v['id'] for v in d['vips'] if v['vip'] == '$2'][0]") || return 1
	for try in 1 2 3 4 5; do
		inner=$(bpftool -j map lookup pinned "/sys/fs/bpf/limpet/$1/maglev" key "$id" 0 0 0 |
			jget "$(cat)" "int(''.join(reversed([x[2:] for x in d['value']])), 16)") || continue
		bpftool -j map dump id "$inner" 2>/dev/null | $PY -c "
import json, sys
t = json.load(sys.stdin)
if not isinstance(t, list):
    sys.exit(1)
le = lambda b: int(''.join(reversed([x[2:] for x in b])), 16)
for e in sorted(t, key=lambda e: le(e['key'])):
    print(le(e['value']))" 2>/dev/null && return 0
	done
	return 1
}
