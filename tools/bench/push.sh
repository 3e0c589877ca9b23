#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Server push through limpet, NAT vs ipip DSR: backends send to many clients (downloads), and
# the balancer's CPU per GB sent is measured as its BPF programs' run time (kernel.bpf_stats),
# with the whole machine's busy CPU per GB beside it; a third round without limpet (clients
# fetch from the backends' own addresses, the same router between) gives the machine's cost
# of the traffic alone, so machine - direct is all that limpet adds (its programs and devices,
# the router's hop to it, and in DSR the backends' decapsulation).
# How often clients acknowledge sets DSR's cost, so each round runs with two client links:
#   wire  the router's port to the clients sends MTU-sized frames, as a physical port does (its
#         segmentation offloads off): the clients' GRO merges each burst, as a NIC's does
#   veth  the veth as it is: a backend's TCP segments reach the clients as the GSO packets it
#         sent in DSR (no wire ever carries those; GRO cannot merge them further)
#   push.sh [SECONDS [ROUNDS [CLIENTS]]]
#   PUSH_MODES=ipip push.sh 30 1 12   one mode's rounds only (to profile it beside: README); the
#                                      summary needs all three, direct needs nat
#   PUSH_LINKS=wire push.sh ...        one client link only
#
#   cli ── rt (router, bridge br0) ── lb (limpet, one arm)
#                                 └── be1..be3 (nginx, limpet decap)
# Clients reach the VIP through rt, which routes it to lb. In NAT mode the backends route their
# replies to clients through lb; in DSR mode straight to rt.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TB=${TB:-lpps}
. "$ROOT/tools/testbed.sh"
SECS=${1:-5}
ROUNDS=${2:-3}
NCLI=${3:-12}
MODES=${PUSH_MODES:-nat ipip direct}
LINKS=${PUSH_LINKS:-wire veth}
for l in $LINKS; do
	case $l in wire | veth) ;; *) echo "Error: push.sh: PUSH_LINKS: unknown client link '$l' (wire, veth)" >&2; exit 2 ;; esac
done
case " $MODES " in
*" direct "*) [[ " $MODES " == *" nat "* ]] || { echo "Error: push.sh: PUSH_MODES: direct is checked against nat; add nat" >&2; exit 2; } ;;
esac
for m in $MODES; do
	case $m in nat | ipip | direct) ;; *) echo "Error: push.sh: PUSH_MODES: unknown mode '$m' (nat, ipip, direct)" >&2; exit 2 ;; esac
done
VIP=203.0.113.60
TB_PROBE_NS=sw
cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	for b in 1 2 3; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done
	tb_cleanup
}
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

TB_DIR=$(mktemp -d "/tmp/$TB.XXXXXX")
chmod 755 "$TB_DIR"
mkdir -p "$TB_DIR/www"
head -c $((32 << 20)) /dev/urandom >"$TB_DIR/www/big.bin"
for ns in cli sw lb; do
	ip netns add "$TB-$ns"
	ip -n "$TB-$ns" link set lo up
	tb_in "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
tb_in sw sysctl -qw net.ipv4.ip_forward=1
tb_in lb sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
# the clients' side keeps veth's offloads, and GRO on: a client's kernel acknowledges what
# arrived together at once, as behind any NIC with GRO (nothing rewrites these frames)
ip link add cli0 netns "$TB-cli" type veth peer name rc netns "$TB-sw"
ip -n "$TB-cli" link set cli0 up
ip -n "$TB-sw" link set rc up
tb_in cli ethtool -K cli0 gro on >/dev/null 2>&1
ip -n "$TB-sw" addr add 198.18.255.254/16 dev rc
for ((c = 0; c < NCLI; c++)); do echo "addr add $(tb_client4 $c)/16 dev cli0"; done | ip -n "$TB-cli" -batch -
ip -n "$TB-cli" route add default via 198.18.255.254
ip -n "$TB-sw" link add br0 type bridge
ip -n "$TB-sw" link set br0 up
ip -n "$TB-sw" addr add 10.99.0.254/24 dev br0
ip link add eth0 netns "$TB-lb" type veth peer name lb netns "$TB-sw"
tb_link_prep "$TB-lb" eth0
tb_link_prep "$TB-sw" lb
ip -n "$TB-sw" link set lb master br0
ip -n "$TB-sw" link set dev lb xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
ip -n "$TB-lb" addr add 10.99.0.100/24 dev eth0
ip -n "$TB-lb" route add default via 10.99.0.254
ip -n "$TB-sw" route add $VIP/32 via 10.99.0.100
for b in 1 2 3; do
	tb_backend_add "$b" >/dev/null || exit 1
	ip -n "$TB-be$b" addr add $VIP/32 dev lo
	tb_in "be$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	nsenter --net="/run/netns/$TB-be$b" "$TB_BUILD/limpet" -i "${TB}be$b" decap attach dev eth0 >/dev/null &&
		nsenter --net="/run/netns/$TB-be$b" "$TB_BUILD/limpet" -i "${TB}be$b" decap vip add $VIP || exit 1
done
limpet attach dev eth0 >/dev/null || exit 1

run_ns() { # PROG_PIN: run_time_ns of one of the instance's pinned programs
	bpftool -j prog show pinned "/sys/fs/bpf/limpet/$TB/$1" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("run_time_ns", 0))'
}
busy() { # the machine's busy CPU time so far, in jiffies (all but idle and iowait)
	awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
vstat() { # FIELD: the VIPs' sum of a limpetctl stats field
	limpetctl -j stats | /usr/bin/python3 -c 'import json,sys; print(sum(v[sys.argv[1]] for v in json.load(sys.stdin)["vips"]))' "$1"
}
load() { # SECONDS [direct]: every client downloads again and again (from the VIP, or from
	# backend c % 3 + 1 itself); prints the bytes received
	local c to
	for ((c = 0; c < NCLI; c++)); do
		to=$VIP
		[ "${2:-}" = direct ] && to=$(tb_backend4 $((c % 3 + 1)))
		(
			end=$((SECONDS + $1))
			while [ $SECONDS -lt $end ]; do
				tb_in cli curl -s -o /dev/null -m $(($1 + 5)) --interface "$(tb_client4 $c)" \
					-w '%{size_download}\n' "http://$to/big.bin"
			done
		) >"$TB_DIR/load.$c" &
	done
	wait
	cat "$TB_DIR"/load.* | awk '{s += $1} END {printf "%.0f\n", s}'
}
mode() { # nat|ipip|direct: the VIP in that mode, and the backends' route to clients to match
	limpetctl vip del $VIP:80/tcp >/dev/null 2>&1
	if [ "$1" = direct ]; then
		for b in 1 2 3; do ip -n "$TB-be$b" route del 198.18.0.0/16 2>/dev/null; done
		return
	fi
	if [ "$1" = nat ]; then
		limpetctl vip add $VIP:80/tcp >/dev/null
	else
		limpetctl vip add $VIP:80/tcp mode ipip >/dev/null
	fi
	for b in 1 2 3; do
		limpetctl backend add $VIP:80/tcp "$(tb_backend4 $b)" >/dev/null
		if [ "$1" = nat ]; then
			ip -n "$TB-be$b" route replace 198.18.0.0/16 via 10.99.0.100
		else
			ip -n "$TB-be$b" route del 198.18.0.0/16 2>/dev/null
		fi
	done
}

client_link() { # wire|veth: the router's port to the clients
	local o=on
	[ "$1" = wire ] && o=off
	tb_in sw ethtool -K rc tso $o gso $o >/dev/null
	tb_in sw ethtool -k rc | grep -q "^generic-segmentation-offload: $o" ||
		{ echo "Error: push.sh: client link $1: the router's port to the clients kept GSO" >&2; exit 1; }
}

echo "| round | client link | mode | GB sent | limpet BPF CPU (ms) | limpet CPU per GB (ms) | machine CPU per GB (s) | client packets through limpet | backend packets through limpet | bytes through limpet per byte sent |"
echo "|---|---|---|---|---|---|---|---|---|---|"
hz=$(getconf CLK_TCK)
for ((r = 1; r <= ROUNDS; r++)); do
	for l in $LINKS; do
		client_link $l
		for m in $MODES; do
			mode $m
			x0=$(run_ns prog_xdp) t0=$(run_ns prog_tc) b0=$(busy) p0=$(vstat reply_packets) c0=$(vstat packets)
			y0=$(($(vstat bytes) + $(vstat reply_bytes)))
			bytes=$(load "$SECS" $m)
			x1=$(run_ns prog_xdp) t1=$(run_ns prog_tc) b1=$(busy) p1=$(vstat reply_packets) c1=$(vstat packets)
			y1=$(($(vstat bytes) + $(vstat reply_bytes)))
			/usr/bin/python3 - "$r" "$l" "$m" "$bytes" $((x1 - x0 + t1 - t0)) $((b1 - b0)) "$hz" $((p1 - p0)) $((c1 - c0)) $((y1 - y0)) \
				>>"$TB_DIR/rows" <<'PY'
import sys
r, l, m = sys.argv[1:4]
b, ns, jif, hz, rep, cli, thru = (int(x) for x in sys.argv[4:11])
gb = b / 1e9
print(r, l, m, gb, ns / 1e6, ns / 1e6 / gb if gb else 0, jif / hz / gb if gb else 0, rep, cli, thru / b if b else 0)
PY
			# the case measures what it says: NAT translated the backends' packets, DSR none (but a
			# straggler of the NAT round before it: under 0.1 % of the client packets); direct
			# passed no VIP packet, and limpet's programs ran under 1 % of the NAT round's time
			read -r _ _ _ gb bms _ _ back cli _ < <(tail -1 "$TB_DIR/rows")
			if { [ "$m" != direct ] && [ "$cli" -eq 0 ]; } || { [ "$m" = nat ] && [ "$back" -eq 0 ]; } ||
				{ [ "$m" = ipip ] && [ $((back * 1000)) -gt "$cli" ]; }; then
				echo "Error: push.sh: mode $m: $back backend and $cli client packets through limpet" >&2
				exit 1
			fi
			if [ "$m" = direct ] && awk -v r="$r" -v l="$l" -v d="$bms" '$1 == r && $2 == l && $3 == "nat" {exit !(d > $5 / 100)}' "$TB_DIR/rows"; then
				echo "Error: push.sh: mode direct: limpet's programs ran $bms ms: the traffic passed it" >&2
				exit 1
			fi
			tail -1 "$TB_DIR/rows" | awk '{printf "| %s | %s | %s | %.2f | %.1f | %.2f | %.2f | %d | %d | %.3f |\n", $1, $2, $3, $4, $5, $6, $7, $9, $8, $10}'
		done
	done
done
echo
[ "$MODES" = "nat ipip direct" ] || exit 0 # the summary compares all three
for l in $LINKS; do
	echo "Client link: $l"
	awk -v l="$l" '$2 == l {m = $3; ms[m] += $5; gb[m] += $4; mc[m] += $7; n[m]++; pk[m] += $8 + $9}
	END {
		nat = ms["nat"] / gb["nat"]; dsr = ms["ipip"] / gb["ipip"]
		printf "Balancer CPU per GB sent (limpet BPF run time, all rounds): NAT %.2f ms, ipip DSR %.3f ms: DSR / NAT = %.3f (target <= 0.1)\n", nat, dsr, dsr / nat
		printf "Whole machine (clients, backends, router, balancer) per GB: NAT %.2f s, ipip DSR %.2f s, without limpet %.2f s\n", mc["nat"] / n["nat"], mc["ipip"] / n["ipip"], mc["direct"] / n["direct"]
		wn = mc["nat"] / n["nat"] - mc["direct"] / n["direct"]; wd = mc["ipip"] / n["ipip"] - mc["direct"] / n["direct"]
		printf "All that limpet adds (machine - without limpet: its programs and devices, the router hop to it, in DSR the backends decapsulation) per GB: NAT %.2f s, ipip DSR %.2f s: DSR / NAT = %.3f\n", wn, wd, (wn > 0 ? wd / wn : 0)
		printf "Packets through limpet per GB sent: NAT %d, ipip DSR %d (the clients acknowledgements); per packet: NAT %.0f ns, ipip %.0f ns\n", pk["nat"] / gb["nat"], pk["ipip"] / gb["ipip"], ms["nat"] * 1e6 / pk["nat"], ms["ipip"] * 1e6 / pk["ipip"]
		pr = (pk["ipip"] / gb["ipip"]) / (pk["nat"] / gb["nat"]); cr = (ms["ipip"] / pk["ipip"]) / (ms["nat"] / pk["nat"])
		printf "So DSR / NAT per GB = packets per GB %.3f x cost per packet %.3f (an ACK needs two table lookups, the VIP and the flow, as a NAT reply needs the reverse map and the flow)\n", pr, cr
	}' "$TB_DIR/rows"
done
