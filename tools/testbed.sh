# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Network-namespace testbed for limpet's demo, end-to-end tests and benchmarks. Source it.
#
#   client ns  cli0 ─── lbc  limpet ns  lbb ─── swl  switch ns (bridge) ─── be1..beN ns (nginx)
#   198.18.0.0/16          2001:db8:c::/64        10.99.0.0/24, fd00:99::/64
#
# VIPs live in 203.0.113.0/24 and 2001:db8:f::/64; clients route everything via limpet, backends
# route their replies via limpet (NAT mode needs that). limpet runs in the limpet ns through
# nsenter --net (not ip netns exec, which remounts /sys and hides the pinned bpffs).
#
# Usage: TB=name; tb_setup NBACKENDS NCLIENTS [NCLIENTS6]; ... ; tb_cleanup (trap it)
# TB_BRIDGE_LB=1: the backends' bridge br0 lives in the limpet ns itself and holds the backend-side
# addresses (backends as VMs or containers on the balancer host); limpet attaches to br0 in skb
# mode.

TB_ROOT=${TB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TB_BUILD=${TB_BUILD:-$TB_ROOT/build}
TB=${TB:-lpt$$}
TB_VIP4=203.0.113.10
TB_VIP6=2001:db8:f::10
TB_DIR=
TB_NBE=0

tb_ns() { echo "$TB-$1"; }
tb_sw() { if [ -n "${TB_BRIDGE_LB:-}" ]; then tb_ns lb; else tb_ns sw; fi; } # the bridge's ns
tb_in() { local ns=$1; shift; ip netns exec "$TB-$ns" "$@"; }
limpet() { nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" "$@"; }
limpetctl() { "$TB_BUILD/limpetctl" -i "$TB" "$@"; }

tb_client4() { echo "198.18.$(($1 / 250)).$(($1 % 250 + 1))"; }   # client number → address
tb_client6() { printf '2001:db8:c::%x\n' $(($1 + 1)); }
tb_backend4() { echo "10.99.0.$1"; }
tb_backend6() { echo "fd00:99::$1"; }

tb_log() { [ -n "${TB_QUIET:-}" ] || echo "testbed: $*" >&2; }

# Offloads off: veth would hand XDP frames with partial checksums.
tb_link_prep() { # NS DEV
	ip -n "$1" link set "$2" up
	ip netns exec "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || true
}

tb_setup() { # NBACKENDS NCLIENTS [NCLIENTS6]
	local nbe=$1 ncli=$2 ncli6=${3:-0} i
	TB_DIR=$(mktemp -d "/tmp/$TB.XXXXXX")
	chmod 755 "$TB_DIR"
	local nss="cli lb"
	[ -n "${TB_BRIDGE_LB:-}" ] || nss="$nss sw"
	for ns in $nss; do ip netns add "$(tb_ns $ns)"; done
	for ns in $nss; do
		ip -n "$(tb_ns $ns)" link set lo up
		tb_in "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	tb_in lb sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# the client side
	ip link add cli0 netns "$(tb_ns cli)" type veth peer name lbc netns "$(tb_ns lb)"
	tb_link_prep "$(tb_ns cli)" cli0
	tb_link_prep "$(tb_ns lb)" lbc
	ip -n "$(tb_ns lb)" addr add 198.18.255.254/16 dev lbc
	ip -n "$(tb_ns lb)" addr add 2001:db8:c::fffe/64 dev lbc nodad
	{
		for ((i = 0; i < ncli; i++)); do echo "addr add $(tb_client4 $i)/16 dev cli0"; done
		for ((i = 0; i < ncli6; i++)); do echo "addr add $(tb_client6 $i)/64 dev cli0 nodad"; done
	} | ip -n "$(tb_ns cli)" -batch -
	ip -n "$(tb_ns cli)" route add default via 198.18.255.254
	[ "$ncli6" -gt 0 ] && ip -n "$(tb_ns cli)" -6 route add default via 2001:db8:c::fffe
	# the backend side: one L2 segment through a bridge
	ip -n "$(tb_sw)" link add br0 type bridge
	ip -n "$(tb_sw)" link set br0 up
	if [ -n "${TB_BRIDGE_LB:-}" ]; then
		ip -n "$(tb_ns lb)" addr add 10.99.0.254/24 dev br0
		ip -n "$(tb_ns lb)" addr add fd00:99::fe/64 dev br0 nodad
	else
		ip link add swl netns "$(tb_ns sw)" type veth peer name lbb netns "$(tb_ns lb)"
		tb_link_prep "$(tb_ns sw)" swl
		tb_link_prep "$(tb_ns lb)" lbb
		ip -n "$(tb_ns sw)" link set swl master br0
		ip -n "$(tb_ns lb)" addr add 10.99.0.254/24 dev lbb
		ip -n "$(tb_ns lb)" addr add fd00:99::fe/64 dev lbb nodad
		# frames redirected into a veth are delivered only if its peer runs XDP
		ip -n "$(tb_ns sw)" link set dev swl xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
	fi
	ip -n "$(tb_ns cli)" link set dev cli0 xdp obj "$TB_BUILD/limpet_pass.bpf.o" sec xdp
	# content every backend serves: a fixed 4 MiB file for byte-exact transfers
	mkdir -p "$TB_DIR/www"
	head -c 4194304 /dev/urandom >"$TB_DIR/www/big.bin"
	for ((i = 1; i <= nbe; i++)); do tb_backend_add "$i"; done
	tb_log "$nbe backends, $ncli IPv4 + $ncli6 IPv6 client addresses in namespaces $TB-*"
}

tb_backend_add() { # N: namespace beN with nginx answering "beN" (checked from ns TB_PROBE_NS, lb)
	local n=$1 ns dir
	ns=$(tb_ns "be$n")
	dir=$TB_DIR/be$n
	mkdir -p "$dir"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip link add eth0 netns "$ns" type veth peer name "sw$n" netns "$(tb_sw)"
	tb_link_prep "$ns" eth0
	tb_link_prep "$(tb_sw)" "sw$n"
	ip -n "$(tb_sw)" link set "sw$n" master br0
	ip -n "$ns" addr add "$(tb_backend4 "$n")/24" dev eth0
	ip -n "$ns" addr add "$(tb_backend6 "$n")/64" dev eth0 nodad
	ip -n "$ns" route add default via 10.99.0.254
	ip -n "$ns" -6 route add default via fd00:99::fe
	cat >"$dir/nginx.conf" <<NGINX
user root;
daemon on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	keepalive_requests 100000;
	client_max_body_size 64m;
	server {
		listen 80 reuseport backlog=4096;
		listen [::]:80 reuseport backlog=4096;
		location = / { default_type text/plain; return 200 "be$n\n"; }
		location = /big.bin { root $TB_DIR/www; }
		location = /slow.bin { alias $TB_DIR/www/big.bin; limit_rate 1m; }
		location /files/ { alias $TB_DIR/www/; }
		# uploads are kept whole in $dir/body/ so tests can compare them byte for byte
		location = /upload {
			client_body_in_file_only on;
			proxy_pass http://127.0.0.1:81/;
		}
	}
	server { listen 127.0.0.1:81; location / { return 200 "be$n stored\n"; } }
}
NGINX
	ip netns exec "$ns" nginx -e "$dir/error.log" -c "$dir/nginx.conf" -p "$dir" ||
		{ echo "testbed: nginx in $ns failed to start" >&2; cat "$dir/error.log" >&2; return 1; }
	TB_NBE=$((n > TB_NBE ? n : TB_NBE))
	local t
	for t in $(seq 50); do
		tb_in "${TB_PROBE_NS:-lb}" curl -s -o /dev/null --max-time 1 "http://$(tb_backend4 "$n")/" && return 0
		sleep 0.1
	done
	echo "testbed: backend $n does not answer" >&2
	return 1
}

# limpet on both sides of the limpet namespace (NAT mode needs both). Again = upgrade.
tb_attach() { # TB_ATTACH_OPTS: more attach options (table sizes)
	if [ -n "${TB_BRIDGE_LB:-}" ]; then
		limpet attach dev lbc ${TB_ATTACH_OPTS:-} >/dev/null &&
			limpet attach dev br0 mode skb ${TB_ATTACH_OPTS:-} >/dev/null
	else
		limpet attach dev lbc ${TB_ATTACH_OPTS:-} >/dev/null &&
			limpet attach dev lbb ${TB_ATTACH_OPTS:-} >/dev/null
	fi
}

# Attach limpet to both sides and create a VIP with backends 1..N (extra args: vip options).
tb_limpet_up() { # NBACKENDS [VIP ARGS...]
	local nbe=$1 i
	shift
	tb_attach || return 1
	limpetctl vip add "$TB_VIP4:80/tcp" "$@" || return 1
	for ((i = 1; i <= nbe; i++)); do limpetctl backend add "$TB_VIP4:80/tcp" "$(tb_backend4 "$i")" || return 1; done
}

# Traffic that fails makes a test fail in seconds, not after every request's timeout: once
# TB_FAIL_MAX (3) client commands in a row have failed, later ones fail at once (counted in a
# file, so commands run in $(…) count too). Commands meant to fail call tb_in directly.
tb_try() { # CMD...
	local f=${TB_DIR:?}/.failing n rc
	n=$(cat "$f" 2>/dev/null || echo 0)
	if [ "$n" -ge "${TB_FAIL_MAX:-3}" ]; then
		echo "tb_try: not run, $n client commands in a row failed: $*" >&2
		return 124
	fi
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then echo 0 >"$f"; else echo $((n + 1)) >"$f"; fi
	return $rc
}

# One request per new connection from client address SRC; prints the backend's name per URL.
tb_get() { # SRC URL [COUNT]
	local src=$1 url=$2 n=${3:-1} urls=() i
	for ((i = 0; i < n; i++)); do urls+=("$url"); done
	tb_try tb_in cli curl -s -f --connect-timeout 2 --max-time 5 --interface "$src" -H 'Connection: close' "${urls[@]}" |
		tr -d '\r'
}

# Clients 0..N-1 fetch URL once each: prints how many were answered, and by how many backends.
tb_served() { # URL N
	local c r ok=0
	local -A seen=()
	for ((c = 0; c < $2; c++)); do
		r=$(tb_get "$(tb_client4 $c)" "$1")
		[ -n "$r" ] && ok=$((ok + 1)) && seen[$r]=1
	done
	echo "$ok ${#seen[@]}"
}

# Instance NAME's daemon stopped, and waited for (destroy refuses while one runs): the pid in
# its lock file is signalled only while the lock is held, so never a stale one.
tb_daemon_stop() { # NAME
	local f=/run/limpet/$1.run pid i
	[ -e "$f" ] && ! flock -n "$f" true || return 0
	pid=$(cat "$f")
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		flock -n "$f" true && return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	sleep 0.2
}

tb_cleanup() {
	local i ns
	[ -n "${TB_DIR:-}" ] || return 0
	tb_daemon_stop "$TB"
	nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" destroy >/dev/null 2>&1
	for f in "$TB_DIR"/be*/nginx.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^$TB-"); do
		# SIGCONT after: a process a test stopped (a hung backend) takes its SIGTERM then
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -CONT 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TB_DIR" "/run/limpet/$TB.lock" "/run/limpet/$TB.run" "/var/lib/limpet/$TB.prev.conf"
	TB_DIR=
}
