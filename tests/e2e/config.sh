#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpetctl apply/save: an instance made what a configuration file says, changing only what
# differs (real nginx backends, curl clients: only a removed backend's clients move); a file with
# a bad line changes nothing and the error names the line; save then apply changes nothing.
. "$(dirname "$0")/lib.sh"
TB=lpcfg$$
trap 'rm -f "/sys/fs/bpf/$TB-probe"; tb_cleanup' EXIT
URL=http://$TB_VIP4/

tb_setup 4 60 || { not_ok "testbed"; t_done; exit 1; }
tb_attach || { not_ok "attach"; t_done; exit 1; }
B1=$(tb_backend4 1) B2=$(tb_backend4 2) B3=$(tb_backend4 3) B4=$(tb_backend4 4)
cat >"$TB_DIR/a.conf" <<EOF
# limpet $TB
attach dev lbc
vip add $TB_VIP4:80/tcp
backend add $TB_VIP4:80/tcp $B1
backend add $TB_VIP4:80/tcp $B2
backend add $TB_VIP4:80/tcp $B3    # goes in b.conf
vip add 203.0.113.40:80/tcp affinity-timeout 60
backend add 203.0.113.40:80/tcp $B1 weight 3
backend add 203.0.113.40:80/tcp $B2
backend drain 203.0.113.40:80/tcp $B2
vip add 203.0.113.41:0/udp policy five-tuple prefix 24
backend add 203.0.113.41:0/udp $B4
vip add 203.0.113.42:80/tcp policy token token header X-Session-Id fallback five-tuple syn-data on
backend add 203.0.113.42:80/tcp $B1:8080
vip add 203.0.113.43:80/tcp mode ipip
backend add 203.0.113.43:80/tcp $(tb_backend6 1)
metrics listen 127.0.0.1:9810
announce dev lo
EOF
out=$(limpetctl -j apply "$TB_DIR/a.conf")
check "apply to an empty instance: 5 VIPs and 8 backends added, 1 drained ($(jget "$out" "len(d['changes'])") changes)" \
	[ "$(jget "$out" "len(d['changes'])")" = 14 ]
limpetctl save >"$TB_DIR/saved.conf"
check "save then apply: nothing changes" [ "$(limpetctl -j apply "$TB_DIR/saved.conf")" = '{"changes":[]}' ]
check "the original file again: nothing changes" [ "$(limpetctl -j apply "$TB_DIR/a.conf")" = '{"changes":[]}' ]
check "save prints what was applied (options, weight, drain, a backend port)" \
	grep -qx "vip add 203.0.113.42:80/tcp policy token token header X-Session-Id fallback five-tuple syn-data on" "$TB_DIR/saved.conf"
check "save: an IPv6 backend of an IPv4 ipip VIP (IPv4 in IPv6)" \
	grep -qx "backend add 203.0.113.43:80/tcp $(tb_backend6 1)" "$TB_DIR/saved.conf"
printf 'vip add 203.0.113.44:80/tcp\nbackend add 203.0.113.44:80/tcp %s\n' "$(tb_backend6 1)" >"$TB_DIR/fam.conf"
err=$(limpetctl apply "$TB_DIR/fam.conf" 2>&1 >/dev/null)
check "an IPv6 backend of a nat IPv4 VIP: refused with its line ($err)" \
	[ $? -eq 1 -a -n "$(echo "$err" | grep 'fam.conf:2: .*only an IPv4 VIP in mode ipip takes IPv6 backends')" ]
check "save: the drained backend and the weight" bash -c \
	"grep -qx 'backend drain 203.0.113.40:80/tcp $B2' '$TB_DIR/saved.conf' && grep -qx 'backend add 203.0.113.40:80/tcp $B1 weight 3' '$TB_DIR/saved.conf'"

# clients of the main VIP, spread over be1..be3
declare -A be_of
for ((c = 0; c < 60; c++)); do be_of[$c]=$(tb_get "$(tb_client4 $c)" "$URL"); done
n3=0
for ((c = 0; c < 60; c++)); do [ "${be_of[$c]}" = be3 ] && n3=$((n3 + 1)); done
check "60 clients answered, $n3 of them on be3" [ "$(printf '%s\n' "${be_of[@]}" | grep -c '^be')" -eq 60 -a $n3 -gt 0 ]
ids0=$(limpetctl -j backend list "$TB_VIP4:80/tcp")

# a file with one bad line (the last): nothing changes, the error names file and line
sed -e "s|^backend add $TB_VIP4:80/tcp $B3.*|backend add $TB_VIP4:80/tcp $B4|" "$TB_DIR/a.conf" >"$TB_DIR/bad.conf"
echo "backend add 203.0.113.40:80/tcp $B3 weight 0" >>"$TB_DIR/bad.conf"
before=$(limpetctl save)
err=$(limpetctl apply "$TB_DIR/bad.conf" 2>&1 >/dev/null)
rc=$?
check "a bad line: exit 1, one line naming it ($err)" \
	[ $rc -eq 1 -a "$(echo "$err" | wc -l)" -eq 1 -a -n "$(echo "$err" | grep 'bad.conf:19: backend add: weight')" ]
check "a bad line: nothing changed" [ "$(limpetctl save)" = "$before" ]
# not text: a NUL byte ended the line's words there, silently (at the file's end: applied)
cp "$TB_DIR/a.conf" "$TB_DIR/nul.conf"
printf 'vip add 203.0.113.49:80/tcp\0policy five-tuple' >>"$TB_DIR/nul.conf"
err=$(limpetctl apply "$TB_DIR/nul.conf" 2>&1 >/dev/null)
rc=$?
check "a NUL byte: exit 1, one line naming its line, nothing changed ($err)" \
	[ $rc -eq 1 -a "$(echo "$err" | wc -l)" -eq 1 -a -n "$(echo "$err" | grep 'nul.conf:19: a NUL byte')" -a \
	"$(limpetctl save)" = "$before" ]
{ head -c 5000 /dev/zero | tr '\0' '#'; echo; } >"$TB_DIR/long.conf"
err=$(limpetctl apply "$TB_DIR/long.conf" 2>&1 >/dev/null)
check "a line longer than 4,094 bytes: refused, naming it ($err)" \
	[ $? -eq 1 -a -n "$(echo "$err" | grep 'long.conf:1: line longer than 4094 bytes')" ]
printf 'announce dev lo\nannounce dev eth0\n' >"$TB_DIR/ann.conf"
err=$(limpetctl apply "$TB_DIR/ann.conf" 2>&1 >/dev/null)
check "two announce lines: refused, naming the second ($err)" \
	[ $? -eq 1 -a -n "$(echo "$err" | grep 'ann.conf:2: announce: already given')" ]
printf 'attach dev lbc\nannounce dev nosuchdev0\n' >"$TB_DIR/ann.conf"
err=$(timeout 5 nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" run -c "$TB_DIR/ann.conf" 2>&1 >/dev/null)
check "limpet run with an announce device that does not exist: one line, exit 1 ($err)" \
	[ $? -eq 1 -a "$(echo "$err" | wc -l)" -eq 1 -a -n "$(echo "$err" | grep 'nosuchdev0: no such device')" ]
# what the maps would refuse is found before anything changes too: an endpoint for 5 VIPs
cp "$TB_DIR/a.conf" "$TB_DIR/big.conf"
for p in 81 82 83 84; do printf 'vip add %s:%s/tcp\nbackend add %s:%s/tcp %s:80\n' "$TB_VIP4" $p "$TB_VIP4" $p "$B2"; done >>"$TB_DIR/big.conf"
err=$(limpetctl apply "$TB_DIR/big.conf" 2>&1 >/dev/null)
check "an endpoint serving 6 VIPs: refused before any change ($err)" \
	[ "$(limpetctl save)" = "$before" -a -n "$(echo "$err" | grep 'big.conf:5: .*at most 4')" ]

# the edited file: be3 out, be4 in, a weight, an undrain, an option changed, a VIP gone
sed -e "s|^backend add $TB_VIP4:80/tcp $B3.*|backend add $TB_VIP4:80/tcp $B4|" \
	-e "s|$B1 weight 3|$B1 weight 2|" -e "/^backend drain/d" \
	-e "s|prefix 24|prefix 16|" -e "/203.0.113.42/d" "$TB_DIR/a.conf" >"$TB_DIR/b.conf"
out=$(limpetctl -j apply "$TB_DIR/b.conf")
changes=$(jget "$out" "'; '.join(x['change'] for x in d['changes'])")
note "changes: $changes"
want="vip del 203.0.113.42:80/tcp; backend del $TB_VIP4:80/tcp $B3; backend add $TB_VIP4:80/tcp $B4 weight 1; backend weight 203.0.113.40:80/tcp $B1 2; backend undrain 203.0.113.40:80/tcp $B2; vip del 203.0.113.41:0/udp (its options changed); vip add 203.0.113.41:0/udp; backend add 203.0.113.41:0/udp $B4 weight 1"
check "apply the edited file: exactly the 8 changes it asks for" [ "$changes" = "$want" ]
ids1=$(limpetctl -j backend list "$TB_VIP4:80/tcp")
kept=$($PY -c "
import json, sys
a = {b['backend']: b['id'] for b in json.loads(sys.argv[1])['backends']}
b = {b['backend']: b['id'] for b in json.loads(sys.argv[2])['backends']}
print(sum(a[k] == b.get(k) for k in a if not k.startswith('$B3')))" "$ids0" "$ids1")
check "the VIP's untouched backends keep their ids ($kept of 2)" [ "$kept" = 2 ]
moved=0 movedv=0
for ((c = 0; c < 60; c++)); do
	g=$(tb_get "$(tb_client4 $c)" "$URL")
	if [ "${be_of[$c]}" = be3 ]; then
		[ -n "$g" ] && [ "$g" != be3 ] && movedv=$((movedv + 1))
	else
		[ "$g" = "${be_of[$c]}" ] || moved=$((moved + 1))
	fi
done
check "after apply: all $n3 clients of the removed be3 served elsewhere ($movedv)" [ $movedv -eq $n3 ]
check "after apply: no client of be1/be2 moved ($moved)" [ $moved -eq 0 ]
limpetctl save >"$TB_DIR/s2.conf"
check "save then apply after the edit: nothing changes" \
	[ "$(limpetctl -j apply "$TB_DIR/s2.conf")" = '{"changes":[]}' ]

# a VIP's new backends come in together: one table rebuild (one new inner map) for all four
table_map() { # VIP: the id of its table's inner map
	local id
	id=$(jget "$(limpetctl -j vip list)" "[v['id'] for v in d['vips'] if v['vip'] == '$1'][0]")
	bpftool -j map lookup pinned "/sys/fs/bpf/limpet/$TB/maglev" key $id 0 0 0 |
		jget "$(cat)" "int(''.join(reversed([x[2:] for x in d['value']])), 16)"
}
new_map() { # the id of a map created (and removed) now: ids count up, so maps made between two
	bpftool map create "/sys/fs/bpf/$TB-probe" type array key 4 value 4 entries 1 name probe &&
		bpftool -j map show pinned "/sys/fs/bpf/$TB-probe" | jget "$(cat)" "d['id']"
	rm -f "/sys/fs/bpf/$TB-probe"
}
for b in 2 3 4 5; do echo "backend add 203.0.113.43:80/tcp $(tb_backend6 $b)"; done >>"$TB_DIR/s2.conf"
p0=$(new_map)
out=$(limpetctl -j apply "$TB_DIR/s2.conf")
p1=$(new_map)
t=$(table_map 203.0.113.43:80/tcp)
check "apply adds 4 backends to a VIP with one table rebuild (maps made: $((p1 - p0 - 1)), its table's id $t)" \
	[ "$(jget "$out" "len(d['changes'])")" = 4 -a $((p1 - p0)) -eq 2 -a "$t" -gt "$p0" -a "$t" -lt "$p1" ]
# a replacement is one change too: a backend out, one drained, a weight, two in — one rebuild
# (the design's second chance needs it: in steps, a slot passed on twice names the wrong owner)
sed -e "/^backend add 203.0.113.43:80\/tcp $(tb_backend6 2)\$/d" \
	-e "s|^backend add 203.0.113.43:80/tcp $(tb_backend6 3)\$|&\nbackend drain 203.0.113.43:80/tcp $(tb_backend6 3)|" \
	-e "s|^backend add 203.0.113.43:80/tcp $(tb_backend6 4)\$|& weight 3|" "$TB_DIR/s2.conf" >"$TB_DIR/s3.conf"
for b in 6 7; do echo "backend add 203.0.113.43:80/tcp $(tb_backend6 $b)"; done >>"$TB_DIR/s3.conf"
p0=$(new_map)
out=$(limpetctl -j apply "$TB_DIR/s3.conf")
p1=$(new_map)
t=$(table_map 203.0.113.43:80/tcp)
changes=$(jget "$out" "'; '.join(x['change'] for x in d['changes'])")
note "changes: $changes"
check "apply out, drain, weight and in on one VIP: 5 changes, one table rebuild (maps made: $((p1 - p0 - 1)))" \
	[ "$(jget "$out" "len(d['changes'])")" = 5 -a $((p1 - p0)) -eq 2 -a "$t" -gt "$p0" -a "$t" -lt "$p1" ]
check "and the instance is the file" [ "$(limpetctl save | grep -c '203.0.113.43')" = "$(grep -c '203.0.113.43' "$TB_DIR/s3.conf")" ]
t_done
