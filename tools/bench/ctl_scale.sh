#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The control plane at scale: limpetctl apply of VIPS VIPs with PER backends each into an empty
# instance, the commands that read them all, a metrics scrape, the daemon finding every backend
# down at once (they are unreachable: a whole pool failing) — how long until the last is out of
# its table, beside the bound the checks themselves set, and the daemon's CPU time — then every
# backend answering again, back with a slowstart of SLOWSTART s: how long until the last has its
# whole share, and the daemon's CPU time for it.
#   ctl_scale.sh [VIPS [PER]]   (root; defaults 64 50; ~60 s; TB=NAME names the instance,
#                                SLOWSTART=S the slowstart, default 20)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
VIPS=${1:-64} PER=${2:-50} SS=${SLOWSTART:-20}
NS=${TB:-lpcs$$} I=${TB:-lpcs$$}
[ "$(id -u)" -eq 0 ] || { echo "Error: ctl_scale.sh: run it as root" >&2; exit 2; }
[[ $VIPS =~ ^[0-9]+$ && $PER =~ ^[0-9]+$ && $VIPS -ge 1 && $VIPS -le 250 && $PER -ge 1 &&
	$PER -le 250 && $((VIPS * PER)) -le 4096 && $SS =~ ^[0-9]+$ && $SS -ge 1 && $SS -le 600 ]] ||
	{ echo "Error: ctl_scale.sh: VIPS and PER from 1 to 250, at most 4096 backends in all" >&2; exit 2; }
out=$(mktemp -d /tmp/ctlscale.XXXXXX)
pid= srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"$B/limpet" -n "$NS" -i "$I" destroy >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$out" "/run/limpet/$I.lock" "/run/limpet/$I.run" "/var/lib/limpet/$I.prev.conf"
}
trap cleanup EXIT
ctl() { "$B/limpetctl" -n "$NS" -i "$I" "$@"; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; } # EXPR [DECIMALS]
secs() { local t0=$EPOCHREALTIME; "$@" >/dev/null || return 1; calc "$EPOCHREALTIME - $t0"; }

ip netns add "$NS" && ip -n "$NS" link add va type veth peer name vb &&
	ip -n "$NS" link set lo up && ip -n "$NS" link set va up && ip -n "$NS" link set vb up ||
	{ echo "Error: ctl_scale.sh: cannot make namespace $NS" >&2; exit 1; }
"$B/limpet" -n "$NS" -i "$I" attach dev va >/dev/null 2>&1 ||
	{ echo "Error: ctl_scale.sh: attach failed" >&2; exit 1; }
for ((v = 1; v <= VIPS; v++)); do # checks every 2 s, 3 failures: down, 2 successes: up
	echo "vip add 10.9.$v.1:80/tcp check tcp slowstart $SS"
	for ((b = 1; b <= PER; b++)); do echo "backend add 10.9.$v.1:80/tcp 10.8.$v.$b"; done
done >"$out/vips.conf"
n=$((VIPS * PER))
echo "ctl_scale.sh $VIPS $PER: $VIPS VIPs x $PER backends = $n backends (table-size 65537)"
echo "apply to an empty instance:   $(secs ctl apply "$out/vips.conf") s"
echo "apply again (nothing to do):  $(secs ctl apply "$out/vips.conf") s"
echo "limpetctl backend list:       $(secs ctl backend list) s"
echo "limpetctl stats:              $(secs ctl stats) s"
echo "limpetctl save:               $(secs ctl save) s"
{ echo "attach dev va"; echo "metrics listen 127.0.0.1:9555"; cat "$out/vips.conf"; } >"$out/run.conf"
nsenter --net="/run/netns/$NS" "$B/limpet" -i "$I" run -c "$out/run.conf" 2>"$out/daemon.log" &
pid=$!
for ((i = 0; i < 600; i++)); do # timed from when it has attached and applied the file
	grep -q 'running from' "$out/daemon.log" && break
	kill -0 "$pid" 2>/dev/null || { cat "$out/daemon.log" >&2; exit 1; }
	sleep 0.1
done
read -r ut0 st0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
t0=$EPOCHREALTIME
for ((i = 0; i < 600; i++)); do # 300 s at most
	down=$(ctl backend list | grep -c ' down$')
	[ "$down" -ge "$n" ] && break
	sleep 0.5
done
t=$(calc "$EPOCHREALTIME - $t0")
read -r ut st < <(awk '{print $14, $15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
echo "all $n backends unreachable: $down down after $t s; the checks alone take up to 8.4 s"
echo "  (first probe within 1.2 s, then 3 failures 2 s x 1.2 apart); daemon CPU $(calc "($ut + $st - $ut0 - $st0) / $hz" 2) s"
murl=http://127.0.0.1:9555/metrics
scrape=$(secs ip netns exec "$NS" curl -sf -o "$out/m" $murl)
scrape5=$(secs ip netns exec "$NS" curl -sf $murl $murl $murl $murl $murl)
echo "metrics scrape then:          $scrape s ($(wc -c <"$out/m" 2>/dev/null) bytes); the next 5 in one curl: $(calc "$scrape5 / 5") s each"
[ "$down" -ge "$n" ] || exit 1

# every backend answers again: its address on the namespace's lo, one listener for them all
for ((v = 1; v <= VIPS; v++)); do
	for ((b = 1; b <= PER; b++)); do echo "addr add 10.8.$v.$b/32 dev lo"; done
done | ip -n "$NS" -batch - || { echo "Error: ctl_scale.sh: cannot add the addresses" >&2; exit 1; }
ip netns exec "$NS" /usr/bin/python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80))
s.listen(4096)
while True:
    s.accept()[0].close()" &
srv=$!
read -r ut0 st0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
t0=$EPOCHREALTIME
for ((i = 0; i < 2 * (SS + 120); i++)); do
	done_=$(grep -c 'slowstart done' "$out/daemon.log")
	[ "$done_" -ge "$n" ] && break
	sleep 0.5
done
t=$(calc "$EPOCHREALTIME - $t0")
read -r ut st < <(awk '{print $14, $15}' "/proc/$pid/stat")
echo "all $n backends answer again: $done_ back with their whole share after $t s; the checks"
echo "  and the slowstart alone take up to $((SS + 6)) s; daemon CPU $(calc "($ut + $st - $ut0 - $st0) / $hz" 2) s;"
echo "  answering backends marked down meanwhile: $(($(grep -c 'backend down' "$out/daemon.log") - n))"
[ "$done_" -ge "$n" ]
