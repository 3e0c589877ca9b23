#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The CLIs against a live instance: one-line errors, exit codes, nothing half-applied, JSON,
# bpftool's view of the maps, and the loader's errors.
. "$(dirname "$0")/lib.sh"
TB=lpcli$$
trap 'tb_cleanup; ip link del lpx$$a 2>/dev/null; rm -f /run/limpet/${TB}new.lock /run/limpet/${TB}new.run' EXIT
V=10.0.0.10:80/tcp

ip netns add "$TB-lb"
ip -n "$TB-lb" link add d0 type veth peer name d1
ip -n "$TB-lb" link set d0 up
ip -n "$TB-lb" link set d1 up
TB_DIR=$(mktemp -d)

# expect_err NAME RC PATTERN CMD...: exit code RC, one 'Error:' line matching, state unchanged
snapshot() { limpetctl -j vip list; limpetctl -j backend list; limpetctl -j affinity list; }
expect_err() {
	local name=$1 rc=$2 pat=$3 before after out got stdout
	shift 3
	before=$(snapshot)
	out=$("$@" 2>&1 >"$TB_DIR/stdout")
	got=$?
	after=$(snapshot)
	stdout=$(head -c 200 "$TB_DIR/stdout")
	# the error line alone: nothing half-printed on stdout before it
	if [ $got -eq "$rc" ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "^Error: .*$pat" &&
		[ "$before" = "$after" ] && [ -z "$stdout" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $got (want $rc), stderr: $out" "stdout: ${stdout:-empty}" \
			"$([ "$before" = "$after" ] && echo 'state unchanged' || echo 'STATE CHANGED')"
	fi
}

expect_err "limpetctl on a missing instance: exit 1, says how to create it" 1 "not found.*limpet -i $TB attach" \
	limpetctl vip list
check "limpet attach dev d0 (native)" limpet attach dev d0
check "limpet attach dev d1 mode skb joins the instance" limpet attach dev d1 mode skb
check "vip add" limpetctl vip add $V
check "backend add x3" bash -c "$TB_BUILD/limpetctl -i $TB backend add $V 10.1.0.1 && $TB_BUILD/limpetctl -i $TB backend add $V 10.1.0.2:8080 weight 5 && $TB_BUILD/limpetctl -i $TB backend add $V 10.1.0.3"
limpetctl vip add "[fc00::10]:443/udp" prefix6 64 >/dev/null
# -n NETNS, as ip -n: the namespace's devices, the host's pinned state
out=$("$TB_BUILD/limpet" -i "$TB" -n "$TB-lb" -j status)
check "limpet -n NETNS status sees the namespace's devices" \
	[ "$(jget "$out" "sorted(x['device'] for x in d['devices'])")" = "['d0', 'd1']" ]
check "limpetctl -n NETNS works the same" "$TB_BUILD/limpetctl" -i "$TB" -n "$TB-lb" vip list
expect_err "limpet -n with a namespace that does not exist: exit 1" 1 "network namespace 'nosuch$$' not found" \
	"$TB_BUILD/limpet" -i "$TB" -n "nosuch$$" status
expect_err "ip netns exec (/sys mounted anew): says to use -n, mounts nothing" 1 "not the host's.*-n NETNS" \
	ip netns exec "$TB-lb" "$TB_BUILD/limpet" -i "$TB" attach dev d0
expect_err "limpetctl under ip netns exec: says to use -n" 1 "not found: .*-n NETNS" \
	ip netns exec "$TB-lb" "$TB_BUILD/limpetctl" -i "$TB" vip list

# a bad option is one error line too (getopt's own message and the whole usage were ~50 lines)
for tool in limpet limpetctl; do
	expect_err "$tool --bogus: one line naming it" 2 "unknown option '--bogus'; try: $tool help" \
		"$TB_BUILD/$tool" -i "$TB" --bogus vip list
	expect_err "$tool -n without its namespace: one line" 2 "option '-n' needs an argument" \
		"$TB_BUILD/$tool" -i "$TB" -n
	expect_err "$tool --json=1: one line" 2 "option '--json' is unknown or takes no argument" \
		"$TB_BUILD/$tool" -i "$TB" --json=1 vip list
done

expect_err "bad address: usage error" 2 "not an IPv4 or IPv6 address" limpetctl vip add 10.0.0.300:80/tcp
expect_err "port 70000: usage error" 2 "port must be 0-65535" limpetctl vip add 10.0.0.10:70000/tcp
expect_err "unknown policy: usage error" 2 "unknown policy 'round-robin'" limpetctl vip add 10.0.0.11:80/tcp policy round-robin
expect_err "check http without a path: usage error" 2 "check http needs a PATH" limpetctl vip add 10.0.0.11:80/tcp check http
expect_err "rise without a check: usage error" 2 "need a check" limpetctl vip add 10.0.0.11:80/tcp rise 3
expect_err "on-down with an unknown choice: usage error" 2 "on-down takes keep or reset" limpetctl vip add 10.0.0.11:80/tcp check tcp on-down drop
expect_err "a check on a port-0 VIP without check-port: usage error" 2 "give check-port" limpetctl vip add 10.0.0.11:0/tcp check tcp
expect_err "check-timeout longer than the interval: usage error" 2 "must not exceed" limpetctl vip add 10.0.0.11:80/tcp check tcp check-interval 1 check-timeout 5
expect_err "backend health with a bad state: usage error" 2 "up|down|auto" limpetctl backend health 10.0.0.10:80/tcp 10.1.0.1 sideways
expect_err "duplicate vip: runtime error" 1 "vip already exists" limpetctl vip add $V
expect_err "prefix6 on an IPv4 VIP" 1 "prefix6 applies to IPv6 VIPs" limpetctl vip add 10.0.0.12:80/tcp prefix6 64
expect_err "backend for a missing vip" 1 "vip not found" limpetctl backend add 10.0.0.99:80/tcp 10.1.0.1
expect_err "duplicate backend" 1 "backend already exists" limpetctl backend add $V 10.1.0.1
expect_err "weight 0" 2 "weight must be 1-1000" limpetctl backend add $V 10.1.0.9 weight 0
expect_err "weight too large" 2 "weight must be 1-1000" limpetctl backend add $V 10.1.0.9 weight 100000
expect_err "IPv6 backend for an IPv4 VIP" 1 "address family differs" limpetctl backend add $V fc00::1
expect_err "drain a missing backend" 1 "backend not found" limpetctl backend drain $V 10.1.0.77
expect_err "UDP token spec on a TCP VIP" 1 "UDP VIPs take\|token udp needs a UDP VIP" \
	limpetctl vip add 10.0.0.21:80/tcp policy token token udp offset 0 len 4
expect_err "delete a missing vip" 1 "vip not found" limpetctl vip del 10.0.0.99:80/tcp
expect_err "unknown object" 2 "unknown object" limpetctl frobnicate
for cmd in "stats" "backend list" "flows" "affinity list"; do # no empty table before the error
	expect_err "$cmd of a missing vip" 1 "vip 10.0.0.99:80/tcp not found" limpetctl $cmd 10.0.0.99:80/tcp
done
limpetctl vip add 10.0.0.13:80/tcp table-size 211 >/dev/null
limpetctl backend add 10.0.0.13:80/tcp 10.1.0.1 >/dev/null
limpetctl backend add 10.0.0.13:80/tcp 10.1.0.2 >/dev/null
expect_err "too many backends for the table size" 1 "too many backends (table-size 211 allows 2)" \
	limpetctl backend add 10.0.0.13:80/tcp 10.1.0.3
limpetctl vip del 10.0.0.13:80/tcp
# replies find their VIP by the backend's endpoint: at most 4 VIPs each; port-0 VIPs keep the port
for i in 1 2 3 4; do
	limpetctl vip add 10.0.0.3$i:80/tcp >/dev/null
	limpetctl backend add 10.0.0.3$i:80/tcp 10.1.0.50 >/dev/null
done
limpetctl vip add 10.0.0.35:80/tcp >/dev/null
expect_err "a fifth VIP for one backend endpoint" 1 "already serves 4 VIPs.*use another port" \
	limpetctl backend add 10.0.0.35:80/tcp 10.1.0.50
check "the fifth VIP takes the same backend on another port" limpetctl backend add 10.0.0.35:80/tcp 10.1.0.50:81
# DSR VIPs' replies never pass limpet: they take no reverse entry and no part of the limit
n=0
for i in 1 2 3 4 5 6; do
	limpetctl vip add 10.0.0.4$i:80/tcp mode ipip >/dev/null &&
		limpetctl backend add 10.0.0.4$i:80/tcp 10.1.0.50 >/dev/null && n=$((n + 1))
done
check "six ipip VIPs on that same endpoint besides its four NAT ones ($n of 6 added)" [ $n -eq 6 ]
for i in 1 2 3 4 5 6; do limpetctl vip del 10.0.0.4$i:80/tcp >/dev/null; done
limpetctl vip add 10.0.0.36:0/tcp >/dev/null
expect_err "a port-0 VIP's backend with a port" 1 "port-0 VIP keeps the client's port" \
	limpetctl backend add 10.0.0.36:0/tcp 10.1.0.51:8080
for v in 10.0.0.31:80 10.0.0.32:80 10.0.0.33:80 10.0.0.34:80 10.0.0.35:80 10.0.0.36:0; do
	limpetctl vip del $v/tcp >/dev/null
done
rev=$(bpftool map dump pinned "/sys/fs/bpf/limpet/$TB/reverse" -j | $PY -c "import json,sys; print(len(json.load(sys.stdin)))")
check "deleting those VIPs left only $V's 3 backends in the reverse map ($rev entries)" [ "$rev" -eq 3 ]

out=$(limpetctl -j vip add 10.0.0.300:80/tcp 2>/dev/null)
check "-j errors are JSON on stdout" [ "$(jget "$out" "d['error'][:16]")" = "invalid VIP '10." ]

allj=1
for cmd in "vip list" "backend list" "backend list $V" "stats" "stats $V" "flows" "flows $V" \
	"affinity list" "affinity flush $V"; do
	out=$(limpetctl -j $cmd) && $PY -c 'import json,sys; json.loads(sys.argv[1])' "$out" || { allj=0; note "not JSON: $cmd"; }
done
for cmd in status; do
	out=$(limpet -j $cmd) && $PY -c 'import json,sys; json.loads(sys.argv[1])' "$out" || { allj=0; note "not JSON: limpet $cmd"; }
done
check "-j output of every printing command parses as JSON" [ $allj -eq 1 ]
check "-j after the command works too (limpetctl stats -j)" bash -c "$TB_BUILD/limpetctl -i $TB stats -j | $PY -c 'import json,sys; json.load(sys.stdin)'"
bl=$(limpetctl -j backend list $V)
check "backend list shows weights and default ports" \
	[ "$(jget "$bl" "','.join('%s/%s' % (b['backend'], b['weight']) for b in d['backends'])")" = "10.1.0.1:80/1,10.1.0.2:8080/5,10.1.0.3:80/1" ]
limpetctl backend drain $V 10.1.0.3
check "drain shows in backend list" [ "$(jget "$(limpetctl -j backend list $V)" "d['backends'][2]['state']")" = draining ]
limpetctl backend del $V 10.1.0.3
check "del removes the backend" [ "$(jget "$(limpetctl -j backend list $V)" "len(d['backends'])")" = 2 ]
s0=$(limpetctl save)
expect_err "replace with a backend the VIP has: refused" 1 "backend already exists" limpetctl backend replace $V 10.1.0.1 10.1.0.2:8080
expect_err "replace a missing backend: refused" 1 "backend not found" limpetctl backend replace $V 10.1.0.77 10.1.0.8
expect_err "replace without NEW: usage error" 2 "expected VIP BACKEND NEW" limpetctl backend replace $V 10.1.0.1
expect_err "replace with weight 0: usage error" 2 "backend replace: weight must be 1-1000" limpetctl backend replace $V 10.1.0.1 10.1.0.8 weight 0
check "  the refused replaces changed nothing" [ "$(limpetctl save)" = "$s0" ]
limpetctl backend replace $V 10.1.0.1 10.1.0.8 weight 3
check "replace: the old backend draining, the new one active with its weight" \
	[ "$(jget "$(limpetctl -j backend list $V)" "','.join('%s/%s/%s' % (b['backend'], b['state'], b['weight']) for b in d['backends'])")" = "10.1.0.1:80/draining/1,10.1.0.2:8080/active/5,10.1.0.8:80/active/3" ]
limpetctl backend del $V 10.1.0.8
limpetctl backend del $V 10.1.0.1
limpetctl backend add $V 10.1.0.1 >/dev/null
limpetctl vip del $V
check "vip del removes the VIP and its backends" \
	[ "$(jget "$(limpetctl -j backend list)" "len([b for b in d['backends'] if b['vip']=='$V'])")" = 0 ]
limpetctl vip add $V >/dev/null
limpetctl backend add $V 10.1.0.1 >/dev/null

dump=$(bpftool map dump pinned /sys/fs/bpf/limpet/$TB/vips)
check "bpftool map dump shows named fields (vips: vip_id, policy, src_mask)" \
	bash -c "echo '$dump' | grep -q '\"vip_id\"' && echo '$dump' | grep -q '\"src_mask\"'"
named=1
# maglev is an array of maps: the kernel keeps no BTF for its values (inner table ids)
for m in backends flows halfopen reverse affinity frags vip_stats backend_stats reasons config devs; do
	bpftool map show pinned "/sys/fs/bpf/limpet/$TB/$m" | grep -q 'btf_id' || { named=0; note "no BTF: $m"; }
done
check "every pinned map carries BTF" [ $named -eq 1 ]

# replay carries on past a frame the kernel will not run (shorter than an Ethernet header)
"$PY" - "$TB_DIR/short.pcap" <<'PY'
import struct, sys
frames = [b"\x00" * 10,                                            # 10 bytes: no test run
          b"\x02" * 6 + b"\x04" * 6 + b"\x08\x06" + b"\x00" * 28]  # an ARP-typed frame
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for fr in frames:
        f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)
PY
out=$(limpet -j replay "$TB_DIR/short.pcap" out "$TB_DIR/short.out.pcap"); rc=$?
check "replay: a 10-byte frame is a row with verdict error, the next frame still runs (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && [ \"\$(echo '$out' | $PY -c \"import json,sys; d=json.load(sys.stdin); print(' '.join(f['verdict'] + ':' + f['reason'].split(':')[0] for f in d['frames']))\")\" = 'error:error PASS:pass_not_ip' ]"
check "replay: both frames written, the error frame as it was" \
	[ "$(stat -c %s "$TB_DIR/short.out.pcap")" -eq $((24 + 16 + 10 + 16 + 42)) ]

# the loader's errors
out=$(limpet attach dev nosuchdev0 2>&1); rc=$?
check "attach to a missing device: exit 1, 'no such device'" \
	bash -c "[ $rc -eq 1 ] && [ \"$out\" = \"Error: no such device 'nosuchdev0'\" ]"
ip link add lpx$$a type veth peer name lpx$$b
ip link set dev lpx$$a xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
# run in the host namespace, where lpx$$a is
out=$("$TB_BUILD/limpet" -i "$TB" attach dev lpx$$a 2>&1); rc=$?
check "attach over another XDP program: refused, names it" \
	bash -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'another XDP program is attached to lpx$$a (id [0-9]*, name limpet_pass)'"
out=$("$TB_BUILD/limpet" -i "${TB}new" attach dev lpx$$a 2>&1); rc=$?
check "a new instance that fails to attach leaves no pins behind" \
	bash -c "[ $rc -eq 1 ] && [ ! -e /sys/fs/bpf/limpet/${TB}new ]"
out=$("$TB_BUILD/limpet" -i "${TB}new" attach dev lpx$$b flows 100 2>&1); rc=$?
check "a table size out of range: usage error, nothing created ($out)" \
	bash -c "[ $rc -eq 2 ] && echo '$out' | grep -q 'flows: expected a number of entries' && [ ! -e /sys/fs/bpf/limpet/${TB}new ]"
out=$(limpet attach dev d0 flows 8192 2>&1); rc=$?
check "other table sizes for an existing instance: refused, says how ($out)" \
	bash -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'sizes are set when an instance is created'"
out=$("$TB_BUILD/limpet" -i "$TB" detach dev lpx$$a 2>&1); rc=$?
check "detach a device the instance does not own: refused" bash -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'not attached to instance'"
out=$("$TB_BUILD/limpet" -i bad.name status 2>&1); rc=$?
check "invalid instance name: usage error" bash -c "[ $rc -eq 2 ] && echo '$out' | grep -q 'invalid instance name'"
out=$("$TB_BUILD/limpet" attach dev 2>&1); rc=$?
check "attach without a device: usage error" [ $rc -eq 2 ]
check "detach d1, then status lists only d0" bash -c "$(declare -f limpet); TB=$TB TB_BUILD=$TB_BUILD; limpet detach dev d1 >/dev/null && [ \"\$(limpet -j status | grep -o '\"device\"' | wc -l)\" = 1 ]"
# an instance missing a map (pinned by an older limpet): limpetctl says what to do; attach adds it
rm -f "/sys/fs/bpf/limpet/$TB/checks" "/sys/fs/bpf/limpet/$TB/vip_filter"
out=$(limpetctl vip list 2>&1); rc=$?
check "a missing pinned map: exit 1, says attach adds it ($out)" \
	[ $rc -eq 1 -a -n "$(echo "$out" | grep 'limpet attach adds it')" ]
check "limpet attach adds the missing map, the state stays" \
	bash -c "$(declare -f limpet); TB=$TB TB_BUILD=$TB_BUILD; limpet attach dev d0 >/dev/null && $TB_BUILD/limpetctl -i $TB vip list | grep -q '^10.0.0.10:80/tcp'"
# the new map is the VIP filter: attach fills it from the VIPs (a set bit: no VIP there)
nvips=$(limpetctl -j vip list | $PY -c "import json,sys; print(len(json.load(sys.stdin)['vips']))")
nset=$(bpftool -j map dump pinned "/sys/fs/bpf/limpet/$TB/vip_filter" |
	$PY -c "import json,sys; print(sum(bin(int(b, 16)).count('1') for e in json.load(sys.stdin) for b in e['value']))")
check "attach wrote the VIP filter: $nset of 4096 buckets hold none of the $nvips VIPs' addresses" \
	[ "$nvips" -gt 0 -a "$nset" -ge $((4096 - nvips)) -a "$nset" -lt 4096 ]
rm -f "/sys/fs/bpf/limpet/$TB/checks" "/sys/fs/bpf/limpet/$TB/vips"
check "limpet destroy removes the pins" bash -c "nsenter --net=/run/netns/$TB-lb $TB_BUILD/limpet -i $TB destroy >/dev/null && [ ! -e /sys/fs/bpf/limpet/$TB ]"
t_done
