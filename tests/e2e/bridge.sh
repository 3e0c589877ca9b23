#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Backends behind a Linux bridge on the balancer itself (VMs or containers on the limpet host):
# XDP cannot redirect into a bridge, so limpet hands those packets to the kernel (fwd_stack)
# instead of black-holing them; attaching natively to the bridge is refused with what to do.
# DSR through the bridge too: ipip (the backends run limpet's decap) and l2dsr, sent by limpet's
# TC step.
. "$(dirname "$0")/lib.sh"
TB=lpbr$$
trap 'for b in 1 2 3; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done; tb_cleanup' EXIT
TB_BRIDGE_LB=1

tb_setup 3 40 10 || { not_ok "testbed"; t_done; exit 1; }
out=$(limpet attach dev br0 2>&1)
rc=$?
check "native attach to a bridge: refused, says what to attach instead (exit $rc)" \
	bash -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'bridge.*its ports.*mode skb'"
tb_limpet_up 3 || { not_ok "limpet up (lbc native, br0 skb)"; t_done; exit 1; }
limpetctl vip add "[$TB_VIP6]:80/tcp"
for b in 1 2 3; do limpetctl backend add "[$TB_VIP6]:80/tcp" "$(tb_backend6 $b)"; done
st=$(limpet -j status)
check "lbc may take redirects, br0 may not (status: $(jget "$st" "' '.join(x['device'] + '=' + x['redirect'] for x in d['devices'])"))" \
	[ "$(jget "$st" "sorted((x['device'], x['redirect']) for x in d['devices'])")" = "[('br0', 'no'), ('lbc', 'yes')]" ]

sticky=0 total=0
declare -A per_be
for ((c = 0; c < 40; c++)); do
	mapfile -t got < <(tb_get "$(tb_client4 $c)" "http://$TB_VIP4/" 3)
	for g in "${got[@]}"; do
		[ "$g" = "${got[0]}" ] || sticky=$((sticky + 1))
		per_be[$g]=1
		total=$((total + 1))
	done
done
check "40 clients x 3 connections through the bridge: $total of 120 answered, $sticky misses" \
	[ $((total == 120 && sticky == 0)) -eq 1 ]
check "clients spread over the bridged backends (${!per_be[*]})" [ ${#per_be[@]} -eq 3 ]
n6=0
for ((c = 0; c < 10; c++)); do
	[ -n "$(tb_try tb_in cli curl -s -m 5 -g --interface "$(tb_client6 $c)" "http://[$TB_VIP6]/")" ] && n6=$((n6 + 1))
done
check "IPv6 through the bridge: $n6 of 10 clients answered" [ $n6 -eq 10 ]
tb_try tb_in cli curl -s -m 20 --interface "$(tb_client4 1)" -o "$TB_DIR/dl.bin" "http://$TB_VIP4/big.bin"
check "4 MiB download through the bridge, byte-exact" cmp -s "$TB_DIR/dl.bin" "$TB_DIR/www/big.bin"
st=$(limpetctl -j stats)
stack=$(jget "$st" "[x['packets'] for x in d['reasons'] if x['reason']=='fwd_stack'][0]")
redir=$(jget "$st" "[x['packets'] for x in d['reasons'] if x['reason']=='fwd_redirect'][0]")
note "fwd_stack $stack (toward the bridge), fwd_redirect $redir (replies out lbc)"
check "packets toward the bridge went through the kernel, replies were redirected in XDP" \
	[ $((stack > 500 && redir > 500)) -eq 1 ]

# DSR: the backends answer the clients themselves (through the kernel's forwarding here)
VI=203.0.113.15
VL=203.0.113.16
VI6=2001:db8:f::15
VL6=2001:db8:f::16
limpetctl vip add $VI:80/tcp mode ipip
limpetctl vip add $VL:80/tcp mode l2dsr
limpetctl vip add "[$VI6]:80/tcp" mode ipip
limpetctl vip add "[$VL6]:80/tcp" mode l2dsr
for b in 1 2 3; do
	ns=$TB-be$b
	for a in $VI/32 $VL/32 $VI6/128 $VL6/128; do ip -n "$ns" addr add "$a" dev lo; done
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap attach dev eth0 >/dev/null &&
		nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap vip add $VI &&
		nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap vip add $VI6
	limpetctl backend add $VI:80/tcp "$(tb_backend4 $b)"
	limpetctl backend add $VL:80/tcp "$(tb_backend4 $b)"
	limpetctl backend add "[$VI6]:80/tcp" "$(tb_backend6 $b)"
	limpetctl backend add "[$VL6]:80/tcp" "$(tb_backend6 $b)"
done
st0=$(jget "$(limpetctl -j stats)" "[x['packets'] for x in d['tc_reasons'] if x['reason']=='tc_neigh'][0]")
for vm in "$VI ipip" "$VL l2dsr"; do
	read -r v m <<<"$vm"
	read -r ok nbe <<<"$(tb_served "http://$v/" 20)"
	tb_try tb_in cli curl -s -m 20 --interface "$(tb_client4 2)" -o "$TB_DIR/dl.$v" "http://$v/big.bin"
	check "$m through the bridge: $ok of 20 clients served by $nbe backends, 4 MiB byte-exact" \
		[ $((ok == 20 && nbe >= 2)) -eq 1 -a "$(cmp -s "$TB_DIR/dl.$v" "$TB_DIR/www/big.bin" && echo same)" = same ]
done
for vm in "$VI6 ipip" "$VL6 l2dsr"; do
	read -r v m <<<"$vm"
	ok=0
	for ((c = 0; c < 10; c++)); do
		[ -n "$(tb_try tb_in cli curl -s -f -m 5 -g --interface "$(tb_client6 $c)" "http://[$v]/")" ] &&
			ok=$((ok + 1))
	done
	check "$m IPv6 through the bridge: $ok of 10 clients served" [ $ok -eq 10 ]
done
st1=$(jget "$(limpetctl -j stats)" "[x['packets'] for x in d['tc_reasons'] if x['reason']=='tc_neigh'][0]")
check "the DSR frames went into the bridge by limpet's TC step ($((st1 - st0)) tc_neigh)" [ $((st1 - st0)) -gt 100 ]
t_done
