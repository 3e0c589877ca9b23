#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Direct server return end to end: ipip VIPs (IPv4 in IPv4, IPv6 in IPv6) to nginx backends that
# run limpet's decap (no ipip module here), an l2dsr VIP, real curl clients; downloads and an
# upload byte for byte; the decap's counters; what a DSR VIP refuses.
. "$(dirname "$0")/lib.sh"
TB=lpds$$
trap 'for b in 1 2 3; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done; tb_cleanup' EXIT
V4=$TB_VIP4:80/tcp
V6="[$TB_VIP6]:80/tcp"
L2=203.0.113.11
V46=203.0.113.14 # an IPv4 VIP whose backends are reached by IPv6 (IPv4 in IPv6)

tb_setup 3 40 20 || { not_ok "testbed"; t_done; exit 1; }
decap() { # N ARGS...: limpet decap in backend N's namespace
	local n=$1
	shift
	nsenter --net="/run/netns/$TB-be$n" "$TB_BUILD/limpet" -i "${TB}be$n" decap "$@"
}
dstat() { # N REASON: backend N's decap count of REASON
	jget "$(nsenter --net="/run/netns/$TB-be$1" "$TB_BUILD/limpet" -j -i "${TB}be$1" decap stats)" \
		"[x['packets'] for x in d['reasons'] if x['reason']=='$2'][0]"
}
for b in 1 2 3; do
	ns=$TB-be$b
	# the VIPs on lo, never answered for on the wire; segments that fit once encapsulated
	ip -n "$ns" addr add "$TB_VIP4/32" dev lo
	ip -n "$ns" addr add "$TB_VIP6/128" dev lo
	ip -n "$ns" addr add "$L2/32" dev lo
	ip -n "$ns" addr add "$V46/32" dev lo
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	ip -n "$ns" route replace default via 10.99.0.254 advmss 1440
	ip -n "$ns" -6 route replace default via fd00:99::fe advmss 1420
done
tb_attach || { not_ok "attach"; t_done; exit 1; }

out=$(limpetctl vip add 203.0.113.12:80/tcp policy token token query sid mode ipip 2>&1)
check "a TCP token VIP in a DSR mode: refused, says why ($out)" \
	[ $? -ne 0 -a -n "$(echo "$out" | grep 'needs mode nat')" ]
out=$(limpetctl vip add 203.0.113.12:80/tcp mode l2dsr encap-source 10.255.0.0/16 2>&1)
check "encap-source without ipip: refused ($out)" [ $? -ne 0 -a -n "$(echo "$out" | grep 'needs mode ipip')" ]
printf 'vip add 203.0.113.13:80/tcp mode ipip\nbackend add 203.0.113.13:80/tcp 10.99.0.1\nvip add 203.0.113.12:80/tcp mode l2dsr\nbackend add 203.0.113.12:80/tcp 10.99.0.1:8080\n' >"$TB_DIR/bad.conf"
out=$(limpetctl apply "$TB_DIR/bad.conf" 2>&1)
check "a file with a port on a DSR backend: refused with its line ($out)" \
	[ $? -ne 0 -a -n "$(echo "$out" | grep 'bad.conf:4: backend')" ]
check "no VIP was left behind by the refusals" [ -z "$(limpetctl vip list | grep -e 203.0.113.12 -e 203.0.113.13)" ]

limpetctl vip add "$V4" mode ipip encap-source 10.98.0.0/16 &&
	limpetctl vip add "$V6" mode ipip && limpetctl vip add "$L2:80/tcp" mode l2dsr &&
	limpetctl vip add "$V46:80/tcp" mode ipip
for b in 1 2 3; do
	limpetctl backend add "$V4" "$(tb_backend4 $b)"
	limpetctl backend add "$V6" "$(tb_backend6 $b)"
	limpetctl backend add "$L2:80/tcp" "$(tb_backend4 $b)"
	limpetctl backend add "$V46:80/tcp" "$(tb_backend6 $b)"
done
out=$(limpetctl backend add "$L2:80/tcp" "$(tb_backend6 1)" 2>&1)
check "an IPv6 backend of an l2dsr IPv4 VIP: refused, says which take one ($out)" \
	[ $? -ne 0 -a -n "$(echo "$out" | grep 'only an IPv4 VIP in mode ipip takes IPv6 backends')" ]
out=$(limpetctl backend add "$V4" "$(tb_backend4 1):8080" 2>&1)
check "a backend port on a DSR VIP: refused ($out)" [ $? -ne 0 ]
check "vip list shows the modes" [ "$(limpetctl vip list | grep -c 'ipip')" -eq 3 -a \
	"$(limpetctl vip list | grep -c 'l2dsr')" -eq 1 ]
check "save prints them as given" grep -q "vip add $V4 mode ipip encap-source 10.98.0.0/16" \
	<(limpetctl save)

# no neighbour entry for the backends yet on the limpet host: the first DSR frames to each go
# by the TC step, which has the kernel resolve it (tc_neigh)
for b in 1 2 3; do ip -n "$TB-lb" neigh flush to "$(tb_backend4 $b)"; ip -n "$TB-lb" neigh flush to "$(tb_backend6 $b)"; done

# without the decap, an ipip backend gets packets it cannot open: nothing is served
n0=$(tb_get "$(tb_client4 0)" "http://$TB_VIP4/" | grep -c '^be')
check "no decap on the backends: ipip clients are not served ($n0 answers)" [ "$n0" -eq 0 ]
echo 0 >"$TB_DIR/.failing"

# be3's eth0 runs another XDP program (as a backend's firewall would): its decap is mode tc,
# the whole decapsulator at TC ingress; with GRO on, as on a NIC, it unwraps GRO's merged IPIP
# and IP6IP6 packets too (64 KB at a time)
ip -n "$TB-be3" link set dev eth0 xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
tb_in be3 ethtool -K eth0 gro on >/dev/null
out=$(decap 3 attach dev eth0 2>&1)
check "decap attach (XDP) beside another XDP program: refused, one line naming mode tc ($out)" \
	[ $? -eq 1 -a "$(echo "$out" | wc -l)" -eq 1 -a -n "$(echo "$out" | grep 'mode tc')" ]
for b in 1 2 3; do
	decap "$b" attach dev eth0 $([ $b = 3 ] && echo mode tc) >/dev/null && decap "$b" vip add "$TB_VIP4" &&
		decap "$b" vip add "$TB_VIP6" && decap "$b" vip add "$V46"
done
xdp3() { ip -n "$TB-be3" -j link show dev eth0 | jget "$(cat)" "d[0].get('xdp', {}).get('prog', {}).get('name', '')"; }
check "be3: mode tc left its XDP program in place ($(xdp3))" [ "$(xdp3)" = limpet_pass ]
check "decap vip list shows both VIPs" [ "$(decap 1 vip list | grep -c -e "$TB_VIP4" -e "$TB_VIP6")" -eq 2 ]
out=$(decap 1 vip add not-an-address 2>&1)
check "decap vip add with a bad address: one line, exit 1 ($out)" [ $? -eq 1 -a "$(echo "$out" | wc -l)" -eq 1 ]

read -r ok4 nbe4 <<<"$(tb_served "http://$TB_VIP4/" 40)"
check "ipip IPv4: 40 clients served through the decap ($ok4), by $nbe4 backends" \
	[ "$ok4" -eq 40 -a "$nbe4" -ge 2 ]
ok6=0
for ((c = 0; c < 10; c++)); do
	r=$(tb_try tb_in cli curl -s -f --connect-timeout 2 --max-time 5 --interface "$(tb_client6 $c)" \
		"http://[$TB_VIP6]/")
	[ -n "$r" ] && ok6=$((ok6 + 1))
done
check "ipip IPv6 (IP6IP6): 10 clients served ($ok6)" [ $ok6 -eq 10 ]
read -r ok46 nbe46 <<<"$(tb_served "http://$V46/" 20)"
check "IPv4 in IPv6 (backends by their IPv6 addresses): 20 clients served ($ok46), by $nbe46 backends" \
	[ "$ok46" -eq 20 -a "$nbe46" -ge 2 ]
okl2=0
for ((c = 0; c < 20; c++)); do
	[ -n "$(tb_get "$(tb_client4 $c)" "http://$L2/")" ] && okl2=$((okl2 + 1))
done
check "l2dsr: 20 clients served ($okl2)" [ $okl2 -eq 20 ]
tn=$(jget "$(limpetctl -j stats)" "[x['packets'] for x in d['tc_reasons'] if x['reason']=='tc_neigh'][0]")
check "frames to a backend not yet in the neighbour table were sent by the TC step ($tn)" [ "$tn" -gt 0 ]

want=$(sha256sum <"$TB_DIR/www/big.bin" | cut -d' ' -f1)
got4=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client4 3)" "http://$TB_VIP4/big.bin" | sha256sum | cut -d' ' -f1)
got6=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client6 3)" "http://[$TB_VIP6]/big.bin" | sha256sum | cut -d' ' -f1)
gotl2=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client4 3)" "http://$L2/big.bin" | sha256sum | cut -d' ' -f1)
got46=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client4 3)" "http://$V46/big.bin" | sha256sum | cut -d' ' -f1)
check "4 MiB downloads byte-exact over ipip v4, v6, IPv4 in IPv6 and l2dsr" \
	[ "$got4" = "$want" -a "$got6" = "$want" -a "$got46" = "$want" -a "$gotl2" = "$want" ]
head -c 1048576 /dev/urandom >"$TB_DIR/up.bin"
r=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client4 4)" --data-binary "@$TB_DIR/up.bin" \
	"http://$TB_VIP4/upload")
b=${r%% *}
stored=$(ls -t "$TB_DIR/$b/body/"* 2>/dev/null | head -1)
check "a 1 MiB upload over ipip (full-size segments, advmss) arrives byte-exact at $b" \
	cmp -s "$TB_DIR/up.bin" "$stored"
# without advmss the clients send full-size segments, too big once encapsulated: limpet answers
# them with ICMP fragmentation needed / packet too big, and the clients' stacks send smaller ones
for b in 1 2 3; do
	ip -n "$TB-be$b" route replace default via 10.99.0.254
	ip -n "$TB-be$b" -6 route replace default via fd00:99::fe
done
up_exact() { # CLIENT-ADDRESS URL: the upload's answer names the backend that stored it
	local r stored
	r=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$1" --data-binary "@$TB_DIR/up.bin" "$2")
	stored=$(ls -t "$TB_DIR/${r%% *}/body/"* 2>/dev/null | head -1)
	[ -n "$r" ] && cmp -s "$TB_DIR/up.bin" "$stored"
}
up_exact "$(tb_client4 5)" "http://$TB_VIP4/upload"
u4=$?
up_exact "$(tb_client6 5)" "http://[$TB_VIP6]/upload"
u6=$?
up_exact "$(tb_client4 6)" "http://$V46/upload"
u46=$?
tbig=$(jget "$(limpetctl -j stats)" "[x['packets'] for x in d['reasons'] if x['reason']=='tx_too_big'][0]")
check "1 MiB uploads without advmss (v4 $u4, v6 $u6, 4in6 $u46) arrive byte-exact: $tbig too-big packets answered with ICMP" \
	[ $u4 -eq 0 -a $u6 -eq 0 -a $u46 -eq 0 -a "$tbig" -ge 3 ]
check "the clients learned the path MTUs limpet named (1480 under IPv4, 1460 under IPv6)" \
	bash -c "ip netns exec $TB-cli ip route get $TB_VIP4 from $(tb_client4 5) | grep -q 'mtu 1480' &&
		ip netns exec $TB-cli ip route get $V46 from $(tb_client4 6) | grep -q 'mtu 1460'"

tb_in be1 ping -c1 -W1 10.99.0.2 >/dev/null
dl=$(dstat 1 deliver) po=$(dstat 1 pass_other)
check "decap counters: $dl delivered, $po other packets passed untouched" [ "$dl" -gt 0 -a "$po" -gt 0 ]
# an IPIP packet for an address that is no VIP here: untouched, counted
tb_in lb $PY - "$(tb_backend4 1)" <<'PY'
import socket, struct, sys
inner = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28, 0, 0, 64, 17, 0,
                    socket.inet_aton('198.18.0.9'), socket.inet_aton('192.0.2.99')) + b'\0' * 8
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IPIP)
s.sendto(inner, (sys.argv[1], 0))
PY
sleep 0.2
check "an IPIP packet for no VIP here: passed untouched, counted" \
	[ "$(dstat 1 pass_not_vip)" -ge 1 ]
rs=$(limpetctl -j stats)
fw=$(jget "$rs" "sum(x['packets'] for x in d['reasons'] if x['reason'].startswith('fwd_'))")
check "limpet counted the DSR packets it sent ($fw) and dropped none for lack of a path" \
	[ "$fw" -gt 0 -a "$(jget "$rs" "[x['packets'] for x in d['reasons'] if x['reason']=='drop_dsr_path'][0]")" -eq 0 ]
# be3 in mode tc: its clients served, uploads (GRO-merged IPIP and IP6IP6 at TC ingress) whole
served3() { # URL FAMILY N: of N clients, how many be3 served
	local c k=0
	for ((c = 0; c < $3; c++)); do
		[ "$(tb_get "$(tb_client$2 $c)" "$1")" = be3 ] && k=$((k + 1))
	done
	echo $k
}
up3() { # FAMILY URL: a 1 MiB upload from the first client the VIP gives to be3, byte-exact
	local c r stored
	for ((c = 0; c < 20; c++)); do
		r=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client$1 $c)" \
			--data-binary "@$TB_DIR/up.bin" "$2")
		[ "${r%% *}" = be3 ] || continue
		stored=$(ls -t "$TB_DIR/be3/body/"* 2>/dev/null | head -1)
		cmp -s "$TB_DIR/up.bin" "$stored"
		return
	done
	return 1
}
s4=$(served3 "http://$TB_VIP4/" 4 40) s46=$(served3 "http://$V46/" 4 40)
check "be3 (decap mode tc) served clients over ipip v4 ($s4 of 40) and IPv4 in IPv6 ($s46 of 40)" \
	[ "$s4" -gt 0 -a "$s46" -gt 0 ]
d0=$(dstat 3 deliver)
check "a 1 MiB upload over ipip to be3 (mode tc) arrives byte-exact" up3 4 "http://$TB_VIP4/upload"
d1=$(dstat 3 deliver)
check "  and over IP6IP6" up3 6 "http://[$TB_VIP6]/upload"
check "  its ~730 segments reached the decap merged by GRO: $((d1 - d0)) packets unwrapped" [ $((d1 - d0)) -lt 490 ]
check "be3's decap counted what it unwrapped ($(dstat 3 deliver)) and dropped nothing" \
	[ "$(dstat 3 deliver)" -gt 0 -a "$(dstat 3 drop)" -eq 0 ]
# switching modes under a download: be2 native -> tc -> native, a 4 MiB download of one of be2's
# clients running across both switches
progs2() { # be2's decap programs: XDP's name, TC's name
	echo "$(ip -n "$TB-be2" -j link show dev eth0 | jget "$(cat)" "d[0].get('xdp', {}).get('prog', {}).get('name', '-')")" \
		"$(tc -n "$TB-be2" filter show dev eth0 ingress | grep -o 'limpet_[a-z_]*' | head -1)"
}
for ((c = 0; c < 40; c++)); do [ "$(tb_get "$(tb_client4 $c)" "http://$TB_VIP4/")" = be2 ] && break; done
tb_in cli curl -s -f --limit-rate 1m --max-time 20 --interface "$(tb_client4 $c)" "http://$TB_VIP4/big.bin" \
	-o "$TB_DIR/switch.bin" &
dl=$!
sleep 1
decap 2 attach dev eth0 mode tc >/dev/null
p_tc=$(progs2)
sleep 1
decap 2 attach dev eth0 >/dev/null
p_xdp=$(progs2)
wait $dl
check "be2 switched to mode tc ($p_tc) and back ($p_xdp) under a download that arrived byte-exact" \
	[ "$p_tc" = "- limpet_tcdecap" -a "$p_xdp" = "limpet_decap limpet_decap_tc" -a \
		"$(sha256sum <"$TB_DIR/switch.bin" | cut -d' ' -f1)" = "$want" ]
detach3() { # be3's decap detached: its TC program gone, the other XDP program still there
	decap 3 detach dev eth0 && [ "$(xdp3)" = limpet_pass ] &&
		! tc -n "$TB-be3" filter show dev eth0 ingress | grep -q limpet_tcdecap
}
check "decap detach in mode tc: the other XDP program stays" detach3
check "decap detach" decap 1 detach dev eth0
out=$(decap 1 detach dev eth0 2>&1)
check "decap detach again: refused, one line ($out)" [ $? -eq 1 -a "$(echo "$out" | wc -l)" -eq 1 ]
st=$(nsenter --net="/run/netns/$TB-be2" "$TB_BUILD/limpet" -j -i "${TB}be2" decap status)
check "decap status: be2's eth0, native, its XDP program and TC step ($st)" \
	[ "$(jget "$st" "' '.join('%s/%s/%d' % (x['device'], x['mode'], bool(x['xdp_prog'] and x['tc_prog'])) for x in d['devices'])")" = "eth0/native/1" ]
# destroy: be2's decapsulator off its device (XDP and its TC step), its pins gone
destroyed2() {
	local out
	out=$(nsenter --net="/run/netns/$TB-be2" "$TB_BUILD/limpet" -j -i "${TB}be2" decap destroy) &&
		[ "$(jget "$out" "d['devices']")" = 1 ] && [ "$(progs2)" = "- " ] &&
		[ ! -e "/sys/fs/bpf/limpet-decap/${TB}be2" ]
}
check "decap destroy: detached from be2's device (XDP and its TC step), its pins removed" destroyed2
out=$(decap 2 destroy 2>&1)
check "decap destroy again: refused, one line ($out)" \
	[ $? -eq 1 -a "$(echo "$out" | wc -l)" -eq 1 -a -n "$(echo "$out" | grep "decap instance '${TB}be2' not found")" ]
t_done
