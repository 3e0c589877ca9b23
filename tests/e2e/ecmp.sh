#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Three limpet hosts behind an ECMP router, announced with BIRD (BGP + BFD): VIPs announced and
# withdrawn as their health says; downloads and idle server-push sessions over ipip (and l2dsr)
# carry on byte for byte when a limpet host's link goes down; then a backend is replaced (one
# drained, one added, in one reload) while connections are open and another host fails — the
# backend decap's second chance keeps them, the drained one's too; and a host that comes back
# with no state (destroyed, restarted from its file) while a backend drains sends that
# backend's connections to it: second chance from the configuration; and a backend added, then
# a host rebooted: it applies the configuration its daemon saved before that change first, so
# the connections of the slots the new backend took keep their second chance.
#
#   cli ── router (sw: BIRD, ECMP, bridge br0) ── h1 h2 h3 (BIRD + limpet run, ipip/l2dsr)
#                                            └── be1..be4 (nginx, push servers, limpet decap)
. "$(dirname "$0")/lib.sh"
TB=lpec$$
TB_PROBE_NS=sw
VIP=203.0.113.10 L2=203.0.113.11 CHK=203.0.113.20 VIP6=fc00:200::10
hn() { echo "${TB}h$1"; } # host N's limpet instance
ctl() { local n=$1; shift; "$TB_BUILD/limpetctl" -i "$(hn "$n")" "$@"; }
cleanup() {
	for n in 1 2 3; do
		tb_daemon_stop "$(hn "$n")"
		nsenter --net="/run/netns/$TB-h$n" "$TB_BUILD/limpet" -i "$(hn "$n")" destroy >/dev/null 2>&1
		rm -f "/run/limpet/$(hn "$n").run" "/run/limpet/$(hn "$n").lock" "/var/lib/limpet/$(hn "$n").prev.conf"
	done
	for b in 1 2 3 4; do rm -rf "/sys/fs/bpf/limpet-decap/${TB}be$b"; done
	tb_cleanup
}
trap cleanup EXIT
command -v bird >/dev/null || { not_ok "bird2 is installed (tools/install-deps.sh)"; t_done; exit 1; }

TB_DIR=$(mktemp -d "/tmp/$TB.XXXXXX")
chmod 755 "$TB_DIR"
mkdir -p "$TB_DIR/www"
head -c 4194304 /dev/urandom >"$TB_DIR/www/big.bin"
echo ok >"$TB_DIR/www/healthz"
for ns in cli sw h1 h2 h3; do
	ip netns add "$TB-$ns"
	ip -n "$TB-$ns" link set lo up
	tb_in "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
tb_in sw sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
	net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1
# the router: clients on rc, hosts and backends on br0
ip link add cli0 netns "$TB-cli" type veth peer name rc netns "$TB-sw"
tb_link_prep "$TB-cli" cli0
tb_link_prep "$TB-sw" rc
ip -n "$TB-sw" addr add 198.18.255.254/16 dev rc
ip -n "$TB-sw" addr add 2001:db8:c::fffe/64 dev rc nodad
{
	for ((c = 0; c < 30; c++)); do echo "addr add $(tb_client4 $c)/16 dev cli0"; done
	for ((c = 0; c < 6; c++)); do echo "addr add $(tb_client6 $c)/64 dev cli0 nodad"; done
} | ip -n "$TB-cli" -batch -
ip -n "$TB-cli" route add default via 198.18.255.254
ip -n "$TB-cli" -6 route add default via 2001:db8:c::fffe
ip -n "$TB-sw" link add br0 type bridge
ip -n "$TB-sw" link set br0 up
ip -n "$TB-sw" addr add 10.99.0.254/24 dev br0
ip -n "$TB-sw" addr add fd00:99::fe/64 dev br0 nodad
for n in 1 2 3; do
	ip link add eth0 netns "$TB-h$n" type veth peer name "h$n" netns "$TB-sw"
	tb_link_prep "$TB-h$n" eth0
	tb_link_prep "$TB-sw" "h$n"
	ip -n "$TB-sw" link set "h$n" master br0
	# XDP_TX on a host's eth0 is delivered only if its peer runs XDP
	ip -n "$TB-sw" link set dev "h$n" xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
	ip -n "$TB-h$n" addr add "10.99.0.1$n/24" dev eth0
	ip -n "$TB-h$n" addr add "fd00:99::1$n/64" dev eth0 nodad
	ip -n "$TB-h$n" route add default via 10.99.0.254
	ip -n "$TB-h$n" -6 route add default via fd00:99::fe
	tb_in "h$n" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
done
for b in 1 2 3 4; do
	tb_backend_add "$b" || { not_ok "backend $b"; t_done; exit 1; }
	ns=$TB-be$b
	for a in $VIP $L2 $CHK; do ip -n "$ns" addr add "$a/32" dev lo; done
	ip -n "$ns" addr add "$VIP6/128" dev lo
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	ip -n "$ns" route replace default via 10.99.0.254 advmss 1440
	d() { nsenter --net="/run/netns/$ns" "$TB_BUILD/limpet" -i "${TB}be$b" decap "$@" >/dev/null; }
	# be4 in mode tc (the whole decap at TC ingress): its hand-ons are redirects from there
	d attach dev eth0 $([ $b = 4 ] && echo mode tc) && d vip add $VIP && d vip add $CHK && d vip add $VIP6 ||
		{ not_ok "decap on be$b"; t_done; exit 1; }
	for p in 9000 9001 9002 9003; do
		tb_in "be$b" $PY "$E2E_ROOT/tools/push_sessions.py" server "be$b" $p "$TB_DIR/push$p" \
			>/dev/null 2>&1 &
	done
done

# BIRD: the router imports the hosts' VIP routes and merges them into ECMP routes (L4 hash);
# each host exports its announced VIPs (addresses on lo); BFD finds a dead host in 0.3 s.
bfd='protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }'
cat >"$TB_DIR/bird-sw.conf" <<EOF
router id 10.99.0.254;
protocol device { scan time 1; }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
$bfd
template bgp lb { local 10.99.0.254 as 65000; ipv4 { import all; export none; };
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 3; bfd on; }
template bgp lb6 { local fd00:99::fe as 65000; ipv6 { import all; export none; };
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 3; bfd on; }
protocol bgp h1 from lb { neighbor 10.99.0.11 as 65001; }
protocol bgp h2 from lb { neighbor 10.99.0.12 as 65001; }
protocol bgp h3 from lb { neighbor 10.99.0.13 as 65001; }
protocol bgp h1v6 from lb6 { neighbor fd00:99::11 as 65001; }
protocol bgp h2v6 from lb6 { neighbor fd00:99::12 as 65001; }
protocol bgp h3v6 from lb6 { neighbor fd00:99::13 as 65001; }
EOF
for n in 1 2 3; do
	cat >"$TB_DIR/bird-h$n.conf" <<EOF
router id 10.99.0.1$n;
protocol device { scan time 1; }
protocol direct { ipv4; ipv6; interface "lo"; }
$bfd
protocol bgp up { local 10.99.0.1$n as 65001; neighbor 10.99.0.254 as 65000;
	ipv4 { import none; export where source = RTS_DEVICE && net ~ [ 203.0.113.0/24{32,32} ]; };
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 3; bfd on; }
protocol bgp up6 { local fd00:99::1$n as 65001; neighbor fd00:99::fe as 65000;
	ipv6 { import none; export where source = RTS_DEVICE && net ~ [ fc00:200::/64{128,128} ]; };
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 3; bfd on; }
EOF
	cat >"$TB_DIR/h$n.conf" <<EOF
attach dev eth0
announce dev lo
vip add $VIP:80/tcp mode ipip
vip add $VIP:9000/tcp policy five-tuple mode ipip
vip add $VIP:9001/tcp policy five-tuple mode ipip
vip add $VIP:9002/tcp policy five-tuple mode ipip
vip add $VIP:9003/tcp policy five-tuple mode ipip
vip add $L2:80/tcp mode l2dsr
vip add $CHK:80/tcp mode ipip check http /files/healthz check-interval 1 check-timeout 1 rise 1 fall 1
vip add [$VIP6]:80/tcp mode ipip
EOF
	for v in $VIP:80 $VIP:9000 $VIP:9001 $VIP:9002 $VIP:9003 $L2:80 $CHK:80; do
		for b in 1 2 3; do echo "backend add $v/tcp $(tb_backend4 $b)"; done
	done >>"$TB_DIR/h$n.conf"
	for b in 1 2 3; do echo "backend add [$VIP6]:80/tcp $(tb_backend6 $b)"; done >>"$TB_DIR/h$n.conf"
done
for ns in sw h1 h2 h3; do
	tb_in "$ns" bird -c "$TB_DIR/bird-$ns.conf" -s "$TB_DIR/bird-$ns.ctl" -P "$TB_DIR/bird-$ns.pid" ||
		{ not_ok "bird in $ns starts"; t_done; exit 1; }
done
for n in 1 2 3; do
	nsenter --net="/run/netns/$TB-h$n" "$TB_BUILD/limpet" -i "$(hn $n)" run -c "$TB_DIR/h$n.conf" \
		>"$TB_DIR/h$n.log" 2>&1 &
done

paths() { # ADDR: how many next hops the router has for ADDR (0: no route)
	local r
	case $1 in
	*:*) r=$(ip -n "$TB-sw" -6 route show "$1/128" 2>/dev/null) ;;
	*) r=$(ip -n "$TB-sw" route show "$1/32" 2>/dev/null) ;;
	esac
	if [ -z "$r" ]; then echo 0; elif echo "$r" | grep -q nexthop; then echo "$r" | grep -c nexthop; else echo 1; fi
}
wait_paths() { # ADDR N SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(paths "$1")" -eq "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
check "the router has 3 ECMP paths to the VIP, one per limpet host (BGP from BIRD)" wait_paths $VIP 3 30
check "  and 3 to the IPv6 VIP (BGP over IPv6, each host announcing a /128 on lo)" wait_paths $VIP6 3 15
for n in 1 2 3; do
	check "host $n announced its VIPs on lo (daemon log)" wait_grep "$TB_DIR/h$n.log" "announce $VIP on lo" 1
done

# Announce follows health: every backend of $CHK fails its check → each host withdraws it.
rm "$TB_DIR/www/healthz"
check "a VIP whose backends all fail their checks is withdrawn by every host (router: no route)" \
	wait_paths $CHK 0 15
check "  while the other VIPs stay announced ($(paths $VIP) paths)" [ "$(paths $VIP)" -eq 3 ]
check "  the daemon says so" wait_grep "$TB_DIR/h1.log" "withdraw $CHK from lo" 1
echo ok >"$TB_DIR/www/healthz"
check "healthy again: announced again by all three hosts" wait_paths $CHK 3 15

want=$(sha256sum <"$TB_DIR/www/big.bin" | cut -d' ' -f1)
pids=()
downloads() { # TAG URL FIRST N [6]: slow downloads (about 8 s each) in the background
	local from=tb_client4
	[ "${5:-}" = 6 ] && from=tb_client6
	for ((c = $3; c < $3 + $4; c++)); do
		tb_in cli curl -g -s -S -f --limit-rate 500k --max-time 40 --interface "$($from $c)" "$2" \
			-o "$TB_DIR/$1.$c" 2>"$TB_DIR/$1.$c.err" &
		pids+=($!)
	done
}
sessions() { # PORT N [TIMEOUT]: idle server-push sessions from all client addresses; in $TB_DIR/push$PORT.out
	local srcs="" c
	for ((c = 0; c < 30; c++)); do srcs+="${srcs:+,}$(tb_client4 $c)"; done
	tb_in cli $PY "$E2E_ROOT/tools/push_sessions.py" client $VIP "$1" "$srcs" "$2" "${3:-30}" "$TB_DIR/ready$1" \
		>"$TB_DIR/push$1.out" 2>&1 &
	spid=$!
	for ((c = 0; c < 100; c++)); do [ -f "$TB_DIR/ready$1" ] && return 0; sleep 0.1; done
	return 1
}
settle() { # PORT: the downloads end, then the servers push and the sessions answer
	wait "${pids[@]}"
	pids=()
	: >"$TB_DIR/push$1"
	wait "$spid"
}
exact() { # TAG FIRST N: how many downloads arrived byte for byte (the others' errors: notes)
	local c k=0
	for ((c = $2; c < $2 + $3; c++)); do
		if [ "$(sha256sum <"$TB_DIR/$1.$c" 2>/dev/null | cut -d' ' -f1)" = "$want" ]; then
			k=$((k + 1))
		else
			note "download $1.$c from $(tb_client4 $c): $(cat "$TB_DIR/$1.$c.err")" >&2
		fi
	done
	echo $k
}
pushed() { # PORT: sessions whose hello, push and ok came from one backend
	awk '$3 != "-" && $3 == $4 && $4 == $5' "$TB_DIR/push$1.out" | wc -l
}
flows_on() { # N [VIP]: flows host N holds (of VIP)
	ctl "$1" -j flows ${2:+"$2"} | $PY -c "import json,sys; print(len(json.load(sys.stdin).get('flows', [])))"
}
host_down() { # N: the host's link goes down (its BGP and BFD with it); prints how long the router took
	local t0 n
	n=$(paths $VIP)
	t0=$(date +%s%N)
	ip -n "$TB-h$1" link set eth0 down
	wait_paths $VIP $((n - 1)) 10
	echo $((($(date +%s%N) - t0) / 1000000))
}

# Path MTU through DSR behind ECMP: the router's link to the clients carries 1,400 bytes. The
# backends' full-size replies (sent as the VIP) get ICMP fragmentation needed from the router,
# which sends them all to one host (its hash sees only its own address and the VIP): that host
# sends each to the connection's backend — by its flow, or for the others' connections by the
# table — whose stack then sends smaller segments.
icmp_fwd() { # the hosts' ICMP errors sent on
	local n s=0
	for n in 1 2 3; do
		s=$((s + $(jget "$(ctl $n -j stats)" "[e['count'] for e in d['events'] if e['event']=='icmp_fwd'][0]")))
	done
	echo $s
}
ip -n "$TB-sw" link set rc mtu 1400
i0=$(icmp_fwd) k=0
for ((c = 0; c < 9; c++)); do
	got=$(tb_in cli curl -s -f --max-time 15 --interface "$(tb_client4 $c)" "http://$VIP/big.bin" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && k=$((k + 1))
done
check "9 downloads byte-exact across a 1,400-byte link to the clients ($k): the hosts sent $(($(icmp_fwd) - i0)) ICMP errors on to the backends" \
	[ $k -eq 9 -a $(($(icmp_fwd) - i0)) -gt 0 ]
ip -n "$TB-sw" link set rc mtu 1500

# Phase 1: the backend set unchanged; host 2 fails in the middle of everything.
sessions 9000 30 || not_ok "push sessions opened"
downloads ipip "http://$VIP/big.bin" 0 9
downloads l2 "http://$L2/big.bin" 9 3
downloads ipip6 "http://[$VIP6]/big.bin" 0 6 6
sleep 2
f1=$(flows_on 1) f2=$(flows_on 2) f3=$(flows_on 3)
s6="$(flows_on 1 "[$VIP6]:80/tcp"), $(flows_on 2 "[$VIP6]:80/tcp"), $(flows_on 3 "[$VIP6]:80/tcp")"
check "connections spread over the three hosts (flows: $f1, $f2, $f3; IPv6: $s6)" [ "$f1" -gt 0 -a "$f2" -gt 0 -a "$f3" -gt 0 ]
ms=$(host_down 2)
check "host 2 down: the router dropped its path (BFD) in $ms ms" [ "$(paths $VIP)" -eq 2 ]
settle 9000
k=$(exact ipip 0 9)
check "9 ipip downloads across the failure: byte-exact ($k)" [ "$k" -eq 9 ]
k=$(exact l2 9 3)
check "3 l2dsr downloads across the failure: byte-exact ($k)" [ "$k" -eq 3 ]
k=$(exact ipip6 0 6)
check "6 IPv6 (IP6IP6) downloads across the failure: byte-exact ($k)" [ "$k" -eq 6 ]
check "30 idle sessions: the server's push after the failure answered by the same backend ($(pushed 9000))" \
	[ "$(pushed 9000)" -eq 30 ]

# Phase 2: host 2 back; be1 replaced by be4 (drained and added by one reload: one change, so
# every slot that moved names the owner it had before) while connections are open, then host 3
# fails. A connection of be1's whose slot went to be2 and then to be4 in two changes would be
# handed to be2, which never had it.
ip -n "$TB-h2" link set eth0 up
check "host 2 back: 3 paths again" wait_paths $VIP 3 20
sessions 9002 60 120 || not_ok "push sessions opened" # for phase 3
spid2=$spid
sessions 9003 60 150 || not_ok "push sessions opened" # for phase 4
spid3=$spid
sessions 9001 60 || not_ok "push sessions opened"
downloads ipip2 "http://$VIP/big.bin" 12 15
sleep 1
for n in 1 2 3; do
	for v in $VIP:80 $VIP:9001; do
		printf 'backend add %s/tcp %s\nbackend drain %s/tcp %s\n' $v "$(tb_backend4 4)" $v "$(tb_backend4 1)"
	done >>"$TB_DIR/h$n.conf"
	echo "backend drain $VIP:9002/tcp $(tb_backend4 1)" >>"$TB_DIR/h$n.conf" # phase 3: a drain alone
	kill -HUP "$(cat "/run/limpet/$(hn $n).run")"
done
replaced() { # LOG: the reload's changes are in it (the drain is told before the add)
	wait_grep "$1" "backend add $VIP:9001/tcp $(tb_backend4 4)" 5 &&
		grep -q "backend drain $VIP:9001/tcp $(tb_backend4 1)" "$1"
}
for n in 1 2 3; do
	check "host $n: backend 4 added, 1 drained (SIGHUP)" replaced "$TB_DIR/h$n.log"
done
sleep 1
f3=$(flows_on 3)
ms=$(host_down 3)
check "host 3 ($f3 flows) down: the router dropped its path in $ms ms" [ "$(paths $VIP)" -eq 2 ]
settle 9001
k=$(exact ipip2 12 15)
check "15 downloads across a backend replaced and a host failure: byte-exact ($k)" [ "$k" -eq 15 ]
check "60 idle sessions across a backend replaced and a host failure: push answered by the same backend ($(pushed 9001), $(awk '$3 == "be1"' "$TB_DIR/push9001.out" | wc -l) on the drained be1)" \
	[ "$(pushed 9001)" -eq 60 ]
handed() { # N: packets backend N handed on to a previous owner
	jget "$(nsenter --net="/run/netns/$TB-be$1" "$TB_BUILD/limpet" -j -i "${TB}be$1" decap stats)" \
		"sum(x['packets'] for x in d['reasons'] if x['reason'] in ('second_tx', 'second_neigh'))"
}
sc=$(handed 4)
check "the new backend (decap mode tc) handed packets of connections it does not hold to their previous owner ($sc; be2, be3 in XDP: $(handed 2), $(handed 3))" [ "$sc" -gt 0 ]

# Taking host 1 out: its daemon stopped (fail-static: still announced), then limpet destroy
# withdraws its VIP addresses and the router stops sending it clients.
pid=$(cat "/run/limpet/$(hn 1).run")
kill -TERM "$pid"
for ((i = 0; i < 50 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0); i++)); do sleep 0.1; done
sleep 1
check "host 1's daemon stopped: still announced, 2 paths (fail-static)" [ "$(paths $VIP)" -eq 2 ]
out=$(nsenter --net="/run/netns/$TB-h1" "$TB_BUILD/limpet" -i "$(hn 1)" destroy 2>&1)
check "limpet destroy on host 1 withdrew its 4 VIP addresses ($(echo "$out" | grep -c withdraw) lines)" \
	[ "$(echo "$out" | grep -c -e "withdraw $VIP from lo" -e "withdraw $L2 from lo" -e "withdraw $CHK from lo" \
		-e "withdraw $VIP6 from lo")" -eq 4 ]
check "  none of them is left on host 1's lo" [ -z "$(ip -n "$TB-h1" addr show dev lo | grep -e "$VIP/" -e "$L2/" -e "$CHK/")" ]
check "  the router dropped host 1's path (1 left)" wait_paths $VIP 1 10
ok=0
for ((c = 0; c < 10; c++)); do [ -n "$(tb_get "$(tb_client4 $c)" "http://$VIP/")" ] && ok=$((ok + 1)); done
check "  10 new clients served by the host left ($ok)" [ "$ok" -eq 10 ]

# Phase 3: host 1 comes back with no state (destroyed above; its daemon restarted from its
# file) while be1 still drains on port 9002, whose 60 sessions opened before the drain: the
# router gives host 1 about half of them, flows it never saw. Its fresh table names be1 for
# the slots be1 would own (second chance from the configuration), so be1's sessions reach be1;
# without that they would go to the slot's new owner, which resets them.
h1_start() { # LOG [previous PREV]: host 1's daemon from its file, in the background
	local log=$1
	shift
	nsenter --net="/run/netns/$TB-h1" "$TB_BUILD/limpet" -i "$(hn 1)" run -c "$TB_DIR/h1.conf" "$@" \
		>"$TB_DIR/$log" 2>&1 &
}
pushed_after() { # PORT PID BE: the servers on PORT push, the sessions (PID) answer; sets on (how
	# many sessions BE holds) and f1 (the flows of PORT host 1 took)
	sleep 1
	: >"$TB_DIR/push$1"
	wait "$2"
	on=$(awk -v be="$3" '$3 == be' "$TB_DIR/push$1.out" | wc -l)
	f1=$(flows_on 1 "$VIP:$1/tcp")
}
h1_start h1b.log
check "host 1 back with no state: 2 paths" wait_paths $VIP 2 20
pushed_after 9002 "$spid2" be1
check "60 sessions opened before be1's drain, across the stateless host's return: push answered by the same backend ($(pushed 9002); $on on be1; host 1 took $f1 flows)" \
	[ "$(pushed 9002)" -eq 60 -a "$on" -gt 0 -a "$f1" -gt 0 ]

# Phase 4: be4 added on port 9003 (an add alone, one SIGHUP per host), whose 60 sessions opened
# in phase 2; host 1's daemon saves its configuration from before the change. Then host 1
# reboots (what a reboot takes: the daemon, programs, pins, addresses; its files stay) and its
# daemon starts again: into an instance with no VIP it applies the saved configuration, then
# its file — the change the other hosts made — so it knows which slots be4 took. Without that,
# those of the sessions ECMP gives host 1 whose slot be4 took would be sent to be4, which has
# no socket for them and no previous owner to hand them to: reset.
for n in 1 2 3; do
	echo "backend add $VIP:9003/tcp $(tb_backend4 4)" >>"$TB_DIR/h$n.conf"
	kill -HUP "$(cat "/run/limpet/$(hn $n).run")"
done
check "host 1: be4 added on port 9003 (SIGHUP)" wait_grep "$TB_DIR/h1b.log" "backend add $VIP:9003/tcp $(tb_backend4 4)" 5
saved=/var/lib/limpet/$(hn 1).prev.conf
check "  its daemon saved the configuration from before the change ($saved: be1-be3 on 9003, not be4)" \
	bash -c "grep -q 'backend add $VIP:9003/tcp $(tb_backend4 3)' $saved && ! grep -q 'backend add $VIP:9003/tcp $(tb_backend4 4)' $saved"
h1_reboot() { # what a reboot takes from host 1: its daemon, programs, pins, addresses on lo
	local pid
	pid=$(cat "/run/limpet/$(hn 1).run")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	ip -n "$TB-h1" link set dev eth0 xdp off
	tc -n "$TB-h1" qdisc del dev eth0 clsact 2>/dev/null
	rm -rf "/sys/fs/bpf/limpet/$(hn 1)" "/run/limpet/$(hn 1).run" "/run/limpet/$(hn 1).lock"
	for a in $VIP/32 $L2/32 $CHK/32 $VIP6/128; do ip -n "$TB-h1" addr del "$a" dev lo 2>/dev/null; done
}
sleep 1
h1_reboot
check "host 1 rebooted: 1 path" wait_paths $VIP 1 10
h1_start h1c.log
check "host 1 back: 2 paths" wait_paths $VIP 2 20
check "  it applied the saved configuration first (its log)" grep -q "previous: backend add $VIP:9003/tcp $(tb_backend4 3)" "$TB_DIR/h1c.log"
pushed_after 9003 "$spid3" be4
check "60 sessions opened before be4's add, across host 1's reboot: push answered by the same backend ($(pushed 9003); $on on be4; host 1 took $f1 flows)" \
	[ "$(pushed 9003)" -eq 60 -a "$on" -eq 0 -a "$f1" -gt 0 ]
t_done
