#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpetctl apply FILE previous PREV (and limpet run -c FILE previous PREV): an instance without
# VIPs — a limpet host that starts with no state — ends with the tables of one that lived through
# the change from PREV to FILE, both halves of each ipip VIP's table slot for slot; without PREV
# the slots a new backend took name no previous owner. An instance with VIPs keeps its own
# history; a bad PREV changes nothing.
. "$(dirname "$0")/lib.sh"
TB=lpprv$$
NS=$TB-lb
cleanup() {
	tb_daemon_stop "${TB}d"
	for i in a b c d; do
		nsenter --net="/run/netns/$NS" "$TB_BUILD/limpet" -i "$TB$i" destroy >/dev/null 2>&1
		rm -f "/run/limpet/$TB$i.lock" "/run/limpet/$TB$i.run" "/var/lib/limpet/$TB$i.prev.conf"
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TB_DIR"
}
trap cleanup EXIT
TB_DIR=$(mktemp -d "/tmp/$TB.XXXXXX")
L() { local i=$1; shift; nsenter --net="/run/netns/$NS" "$TB_BUILD/limpet" -i "$TB$i" "$@"; }
C() { local i=$1; shift; "$TB_BUILD/limpetctl" -i "$TB$i" "$@"; }
ip netns add "$NS"
ip netns exec "$NS" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
for i in a b c d; do
	ip -n "$NS" link add "pv$i" type veth peer name "pw$i"
	ip -n "$NS" link set "pv$i" up
	ip -n "$NS" link set "pw$i" up
	L $i attach dev "pv$i" >/dev/null || { not_ok "attach instance $i"; t_done; exit 1; }
done

V1=203.0.113.50:80/tcp V2=203.0.113.51:80/tcp V3=203.0.113.52:80/tcp
cat >"$TB_DIR/prev.conf" <<EOF
vip add $V1 mode ipip table-size 1009
backend add $V1 10.99.0.1
backend add $V1 10.99.0.2
backend add $V1 10.99.0.3
vip add $V2 mode ipip table-size 1009
backend add $V2 10.99.0.1
backend add $V2 10.99.0.2
vip add $V3
backend add $V3 10.99.0.1
EOF
# the change: a backend added to V1, one replaced on V2 (10.99.0.1 drained, 10.99.0.3 added)
sed -e "\|^backend add $V1 10.99.0.3\$|a backend add $V1 10.99.0.4" \
	-e "\$a backend add $V2 10.99.0.3\nbackend drain $V2 10.99.0.1" "$TB_DIR/prev.conf" >"$TB_DIR/now.conf"

table() { # INSTANCE VIP: each slot's owner and previous owner, by address ('-': none)
	maglev_table "$TB$1" "$2" >"$TB_DIR/slots" || return 1
	C "$1" -j backend list "$2" >"$TB_DIR/bl"
	$PY - "$TB_DIR/slots" "$TB_DIR/bl" <<'PY'
import json, sys
v = [int(x) for x in open(sys.argv[1])]
name = {b['id']: b['backend'] for b in json.load(open(sys.argv[2]))['backends']}
m = len(v) // 2
for s in range(m):
    print(name.get(v[s], '-'), name.get(v[m + s], '-'))
PY
}

C a apply "$TB_DIR/prev.conf" >/dev/null && C a apply "$TB_DIR/now.conf" >/dev/null ||
	not_ok "instance a: prev.conf, then now.conf"
out=$(C b -j apply "$TB_DIR/now.conf" previous "$TB_DIR/prev.conf")
check "apply now.conf previous prev.conf into an empty instance: prev.conf's 9 changes said as previous, then the change's 3" \
	[ "$(jget "$out" "sum(x['change'].startswith('previous: ') for x in d['changes'])")" = 9 -a \
	"$(jget "$out" "len(d['changes'])")" = 12 ]
C c apply "$TB_DIR/now.conf" >/dev/null || not_ok "instance c: now.conf alone"
check "  and the instance is now.conf (save: the same VIPs and backends as a's)" \
	[ "$(C b save | grep -v '^attach')" = "$(C a save | grep -v '^attach')" ]
for i in a b c; do
	table $i $V1 >"$TB_DIR/$i.v1"
	table $i $V2 >"$TB_DIR/$i.v2"
done
named() { awk -v be="$2" '$1 == be && $2 != "-"' "$1" | wc -l; } # FILE BACKEND: its slots naming a previous owner
owned() { awk -v be="$2" '$1 == be' "$1" | wc -l; }
check "V1 (a backend added): the same table, both halves, as the instance that lived through the change ($(named "$TB_DIR/b.v1" 10.99.0.4:80) of 10.99.0.4's $(owned "$TB_DIR/b.v1" 10.99.0.4:80) slots name their owner before it)" \
	cmp -s "$TB_DIR/a.v1" "$TB_DIR/b.v1"
check "  every slot 10.99.0.4 took names its owner before it" \
	[ "$(named "$TB_DIR/b.v1" 10.99.0.4:80)" -eq "$(owned "$TB_DIR/b.v1" 10.99.0.4:80)" -a "$(owned "$TB_DIR/b.v1" 10.99.0.4:80)" -gt 150 ]
check "  without previous, none does" [ "$(named "$TB_DIR/c.v1" 10.99.0.4:80)" -eq 0 ]
n3=$(owned "$TB_DIR/b.v2" 10.99.0.3:80)
check "V2 (a backend replaced): the same table, both halves; every slot 10.99.0.3 took names its owner before it ($(named "$TB_DIR/b.v2" 10.99.0.3:80) of $n3; without previous only those the drained one would own: $(named "$TB_DIR/c.v2" 10.99.0.3:80))" \
	[ "$(cmp -s "$TB_DIR/a.v2" "$TB_DIR/b.v2" && echo same)" = same -a "$(named "$TB_DIR/b.v2" 10.99.0.3:80)" -eq "$n3" -a \
	"$(named "$TB_DIR/c.v2" 10.99.0.3:80)" -lt "$n3" -a "$n3" -gt 150 ]

# an instance with VIPs has its own history: previous is not applied, and nothing changes
out=$(C a -j apply "$TB_DIR/now.conf" previous "$TB_DIR/prev.conf")
check "an instance with VIPs: previous not applied, said in one line ($(jget "$out" "d['changes'][0]['change']"))" \
	[ "$(jget "$out" "len(d['changes'])")" = 1 -a -n "$(echo "$out" | grep 'not applied: the instance has VIPs')" ]
table a $V1 >"$TB_DIR/a2"
check "  its tables unchanged" cmp -s "$TB_DIR/a.v1" "$TB_DIR/a2"

# bad input: nothing changes
sed -e "s/10.99.0.3\$/10.99.0.300/" "$TB_DIR/prev.conf" >"$TB_DIR/bad.conf"
err=$(C d apply "$TB_DIR/now.conf" previous "$TB_DIR/bad.conf" 2>&1 >/dev/null)
rc=$?
check "a previous file with a bad line: exit 1, its file and line named ($err)" \
	[ $rc -eq 1 -a -n "$(echo "$err" | grep "bad.conf:4: ")" -a "$(echo "$err" | wc -l)" -eq 1 ]
check "  and the instance is still empty" [ -z "$(C d save | grep -v '^attach')" ]
err=$(C d apply "$TB_DIR/now.conf" previous 2>&1 >/dev/null)
rc=$?
check "previous without a file: exit 2 ($err)" [ $rc -eq 2 ]
err=$(C d apply "$TB_DIR/now.conf" previous "$TB_DIR/nosuch.conf" 2>&1 >/dev/null)
rc=$?
check "a previous file that does not exist: exit 1, named ($err)" \
	[ $rc -eq 1 -a -n "$(echo "$err" | grep nosuch.conf)" -a -z "$(C d save | grep -v '^attach')" ]

# the daemon: limpet run -c FILE previous PREV on an instance without VIPs
{ echo "attach dev pvd"; cat "$TB_DIR/now.conf"; } >"$TB_DIR/d.conf"
L d run -c "$TB_DIR/d.conf" previous "$TB_DIR/prev.conf" >"$TB_DIR/d.log" 2>&1 &
check "limpet run ... previous: the daemon applied prev.conf first (its log)" \
	wait_grep "$TB_DIR/d.log" "running from" 10
check "  said as previous, then the change" bash -c "grep -q 'previous: backend add $V1 10.99.0.3' '$TB_DIR/d.log' &&
	grep -q 'backend add $V1 10.99.0.4' '$TB_DIR/d.log'"
table d $V1 >"$TB_DIR/d.v1"
check "  and V1's table is the one of the instance that lived through the change" cmp -s "$TB_DIR/a.v1" "$TB_DIR/d.v1"

# the daemon saves the instance as it was before each reload that changes it, for a start with no
# state (a reboot) to apply first; a reload that changes nothing leaves it; destroy removes it
saved=/var/lib/limpet/${TB}d.prev.conf
check "started into an empty instance: nothing saved" [ ! -e "$saved" ]
C d save >"$TB_DIR/d.before"
echo "backend add $V1 10.99.0.5" >>"$TB_DIR/d.conf"
kill -HUP "$(cat "/run/limpet/${TB}d.run")"
wait_grep "$TB_DIR/d.log" "backend add $V1 10.99.0.5" 5
check "a reload that adds a backend: the instance from before it saved ($saved)" \
	cmp -s "$TB_DIR/d.before" "$saved"
echo "# kept" >>"$saved"
kill -HUP "$(cat "/run/limpet/${TB}d.run")"
for ((i = 0; i < 50 && $(grep -c "reload: " "$TB_DIR/d.log") < 2; i++)); do sleep 0.1; done
sleep 0.3 # the reload's apply follows its log line
check "a reload that changes nothing leaves it" grep -qx "# kept" "$saved"
tb_daemon_stop "${TB}d"
L d run -c "$TB_DIR/d.conf" >"$TB_DIR/d2.log" 2>&1 &
check "a daemon restart on the instance (it has VIPs): the saved file is named and not applied" \
	bash -c "$(declare -f wait_grep); wait_grep '$TB_DIR/d2.log' 'running from' 10 && grep -q 'previous $saved not applied: the instance has VIPs' '$TB_DIR/d2.log'"
tb_daemon_stop "${TB}d"
L d destroy >/dev/null 2>&1
check "limpet destroy removes it" [ ! -e "$saved" ]
mkdir -p /var/lib/limpet
echo "vip add nonsense" >"$saved"
L d attach dev pvd >/dev/null
L d run -c "$TB_DIR/d.conf" >"$TB_DIR/d3.log" 2>&1 &
check "a saved file that does not load: said in one line and not used; the daemon applies its file" \
	bash -c "$(declare -f wait_grep); wait_grep '$TB_DIR/d3.log' 'running from' 10 &&
		grep -q 'saved previous configuration: $saved:1: ' '$TB_DIR/d3.log' && ! grep -q 'previous: ' '$TB_DIR/d3.log'"
check "  (the instance is the file: $(C d save | grep -c "^backend add") backends)" \
	[ "$(C d save | grep -c "^backend add")" -eq "$(grep -c "^backend add" "$TB_DIR/d.conf")" ]
tb_daemon_stop "${TB}d"
err=$(L d run -c "$TB_DIR/d.conf" previous "$TB_DIR/bad.conf" 2>&1)
rc=$?
check "limpet run with a bad previous file: exit 1 before anything, its line named ($err)" \
	[ $rc -eq 1 -a -n "$(echo "$err" | grep "bad.conf:4: ")" ]
t_done
