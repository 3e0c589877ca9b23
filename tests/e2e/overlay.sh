#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Backends across a VXLAN overlay: the limpet host reaches them only through a vxlan device
# (MTU 1450, no native XDP), so limpet sends into it by its TC step and sees the backends' NAT
# replies by being attached to it in skb mode; a NAT VIP and an ipip VIP (the backends' decap on
# their own vxlan device), real curl clients, downloads and uploads byte for byte, path-MTU
# discovery through the overlay's smaller MTU.
. "$(dirname "$0")/lib.sh"
TB=lpov$$
trap 'for b in 1 2; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done; tb_cleanup' EXIT
VN=203.0.113.17 # NAT
VI=203.0.113.18 # ipip
VI6=2001:db8:f::18 # ipip, IPv6 in IPv6
ov() { echo "10.77.0.$1"; } # a host's overlay address (the limpet host: 254)
ov6() { printf 'fd77::%x\n' "$1"; }

tb_setup 2 20 10 || { not_ok "testbed"; t_done; exit 1; }
# VNI 42 over the backends' L2 segment: the limpet host and each backend are VTEPs
vtep() { # NS LOCAL-UNDERLAY OVERLAY-ADDR OVERLAY-ADDR6 PEER-UNDERLAY...
	local ns=$1 local=$2 addr=$3 addr6=$4 dev
	shift 4
	dev=$(ip -n "$ns" -o link show | grep -q ' lbb[:@]' && echo lbb || echo eth0)
	ip -n "$ns" link add vx42 type vxlan id 42 dstport 4789 local "$local" dev "$dev" nolearning
	for p in "$@"; do bridge -n "$ns" fdb append 00:00:00:00:00:00 dev vx42 dst "$p"; done
	ip -n "$ns" addr add "$addr/24" dev vx42
	ip -n "$ns" addr add "$addr6/64" dev vx42 nodad
	ip -n "$ns" link set vx42 up
}
vtep "$TB-lb" 10.99.0.254 "$(ov 254)" "$(ov6 254)" "$(tb_backend4 1)" "$(tb_backend4 2)"
for b in 1 2; do
	ns=$TB-be$b
	vtep "$ns" "$(tb_backend4 $b)" "$(ov $b)" "$(ov6 $b)" 10.99.0.254
	# replies to clients over the overlay; the ipip VIPs on lo, never answered for on the wire
	ip -n "$ns" route add 198.18.0.0/16 via "$(ov 254)"
	ip -n "$ns" -6 route add 2001:db8:c::/64 via "$(ov6 254)"
	ip -n "$ns" addr add "$VI/32" dev lo
	ip -n "$ns" addr add "$VI6/128" dev lo
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vx42.rp_filter=0
	nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap attach dev vx42 mode skb \
		>/dev/null && nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap vip add $VI &&
		nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap vip add $VI6
done
tb_attach || { not_ok "attach"; t_done; exit 1; }
# vx42 is stacked on lbb: the kernel changes no XDP program on lbb while vx42 has one, so this
# attach moves lbb (and lbc) to the new program before it takes vx42
warn=$(limpet attach dev vx42 mode skb 2>&1 >/dev/null | grep -v forwarding)
ids=$(jget "$(limpet -j status)" "' '.join(sorted(set(str(x['prog_id']) for x in d['devices'])))")
check "vx42 attached in skb mode over lbb: all three devices run one program ($ids), no warning ($warn)" \
	[ "$(jget "$(limpet -j status)" "len(d['devices'])")" = 3 -a "$(echo "$ids" | wc -w)" = 1 -a -z "$warn" ]
out=$(limpet detach dev lbb 2>&1)
check "detaching lbb below it is refused, saying which device to detach first ($out)" \
	bash -c "[ $? -ne 0 ] && echo '$out' | grep -q 'stacked on it'"
check "the overlay is up: the limpet host reaches both backends' overlay addresses" \
	tb_in lb bash -c "ping -c1 -W2 $(ov 1) && ping -c1 -W2 $(ov 2)"
limpetctl vip add $VN:80/tcp
limpetctl vip add $VI:80/tcp mode ipip
limpetctl vip add "[$VI6]:80/tcp" mode ipip
for b in 1 2; do
	limpetctl backend add $VN:80/tcp "$(ov $b)"
	limpetctl backend add $VI:80/tcp "$(ov $b)"
	limpetctl backend add "[$VI6]:80/tcp" "$(ov6 $b)"
done

reason_of() { # REASON [tc]: a reason's count
	jget "$(limpetctl -j stats)" "[x['packets'] for x in d['${2:-}reasons'] if x['reason']=='$1'][0]"
}
head -c 1048576 /dev/urandom >"$TB_DIR/up.bin"
up_exact() { # CLIENT-ADDRESS URL: the upload's answer names the backend that stored it
	local r stored
	r=$(tb_try tb_in cli curl -s -f -g --max-time 20 --interface "$1" --data-binary "@$TB_DIR/up.bin" "$2")
	stored=$(ls -t "$TB_DIR/${r%% *}/body/"* 2>/dev/null | head -1)
	[ -n "$r" ] && cmp -s "$TB_DIR/up.bin" "$stored"
}
want=$(sha256sum <"$TB_DIR/www/big.bin" | cut -d' ' -f1)
for vm in "$VN nat" "$VI ipip"; do
	read -r v m <<<"$vm"
	n0=$(reason_of tc_neigh tc_)
	read -r ok nbe <<<"$(tb_served "http://$v/" 20)"
	got=$(tb_try tb_in cli curl -s -f --max-time 20 --interface "$(tb_client4 3)" "http://$v/big.bin" |
		sha256sum | cut -d' ' -f1)
	up_exact "$(tb_client4 4)" "http://$v/upload"
	up=$?
	n1=$(reason_of tc_neigh tc_)
	check "$m over the overlay: $ok of 20 clients served by $nbe backends, a 4 MiB download and a 1 MiB upload byte-exact ($up), $((n1 - n0)) frames into vx42 by the TC step" \
		[ $((ok == 20 && nbe == 2 && up == 0 && n1 - n0 > 100)) -eq 1 -a "$got" = "$want" ]
done
ok6=0
for ((c = 0; c < 10; c++)); do
	[ -n "$(tb_try tb_in cli curl -s -f -m 5 -g --interface "$(tb_client6 $c)" "http://[$VI6]/")" ] &&
		ok6=$((ok6 + 1))
done
got6=$(tb_try tb_in cli curl -s -f -m 20 -g --interface "$(tb_client6 3)" "http://[$VI6]/big.bin" |
	sha256sum | cut -d' ' -f1)
up_exact "$(tb_client6 4)" "http://[$VI6]/upload"
up6=$?
check "IP6IP6 over the overlay: $ok6 of 10 IPv6 clients served, a 4 MiB download and a 1 MiB upload byte-exact ($up6); the client learned 1410" \
	bash -c "[ $ok6 -eq 10 -a '$got6' = '$want' -a $up6 -eq 0 ] &&
		ip netns exec $TB-cli ip -6 route get $VI6 from $(tb_client6 4) | grep -q 'mtu 1410'"
rep=$(jget "$(limpetctl -j stats)" "[v['reply_packets'] for v in d['vips'] if v['vip'].startswith('$VN:')][0]")
check "the NAT VIP's replies came back over the overlay and were translated ($rep)" [ "$rep" -gt 1000 ]
tbig=$(reason_of tx_too_big)
check "ipip packets too big for the overlay answered with ICMP ($tbig); the client learned 1430" \
	bash -c "[ $tbig -gt 0 ] && ip netns exec $TB-cli ip route get $VI from $(tb_client4 4) | grep -q 'mtu 1430'"
check "no DSR packet dropped for lack of a path ($(reason_of drop_dsr_path))" [ "$(reason_of drop_dsr_path)" -eq 0 ]
# destroy takes the programs off every device, the one below the vxlan device too (after it)
limpet destroy >/dev/null
left=$(ip -n "$TB-lb" -o link show | grep -E ' (lbc|lbb|vx42)[:@]' | grep -c 'xdp')
check "destroy: no XDP program left on lbc, lbb or vx42 ($left)" [ "$left" -eq 0 ]
t_done
