#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet's demo: source-IP stickiness on a namespace topology with real nginx backends and curl
# clients. Everything it creates is torn down at the end, on Ctrl-C and on failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TB=lpdemo
. "$ROOT/tools/testbed.sh"
NCLI=${NCLI:-60}
VIP=$TB_VIP4:80/tcp
URL=http://$TB_VIP4/

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: the demo builds network namespaces and loads BPF: run it as root" >&2
	exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
tb_cleanup_quiet() { tb_cleanup; }
trap 'echo; echo "== tearing down"; tb_cleanup' EXIT
trap 'exit 130' INT TERM
TB_DIR=x tb_cleanup 2>/dev/null # leftovers of an interrupted run

step() { printf '\n== %s\n' "$*"; }
die() { echo "Error: $*" >&2; exit 1; }

step "topology: $NCLI client addresses -> limpet (XDP on lbc and lbb) -> 3 nginx backends"
cat <<'PIC'
  [lpdemo-cli]          [lpdemo-lb]                [lpdemo-sw]      [lpdemo-be1..3]
  cli0 198.18.0.1-60 --- lbc   limpet   lbb --- bridge br0 ---- eth0 10.99.0.N  nginx "beN"
                        VIP 203.0.113.10:80/tcp (NAT: backends reply through limpet)
PIC
tb_setup 3 "$NCLI" || die "testbed setup failed"

step "limpet attach dev lbc; limpet attach dev lbb"
limpet attach dev lbc | sed 's/^/  /' || die "attach lbc"
limpet attach dev lbb >/dev/null || die "attach lbb"
step "limpetctl vip add $VIP policy ip-hash; backend add x3"
limpetctl vip add "$VIP" policy ip-hash || die "vip add"
for b in 1 2 3; do limpetctl backend add "$VIP" "$(tb_backend4 $b)" || die "backend add"; done
limpetctl backend list | sed 's/^/  /'

step "one request from every client address (curl --interface ADDR $URL)"
declare -A first per_be
for ((c = 0; c < NCLI; c++)); do
	src=$(tb_client4 $c)
	b=$(tb_get "$src" "$URL")
	first[$c]=${b:-none}
	per_be[${b:-none}]=$((${per_be[${b:-none}]:-0} + 1))
done
for ((c = 0; c < NCLI; c++)); do
	printf '  %-12s -> %-5s' "$(tb_client4 $c)" "${first[$c]}"
	(((c + 1) % 4 == 0)) && echo
done
echo
printf '  clients per backend:'
for b in $(echo "${!per_be[@]}" | tr ' ' '\n' | sort); do printf ' %s=%s' "$b" "${per_be[$b]}"; done
echo

step "limpetctl stats"
limpetctl stats | sed 's/^/  /'

step "reconnects: 5 new TCP connections from each of 5 clients"
for c in 0 1 2 3 4; do
	printf '  %-12s -> %s\n' "$(tb_client4 $c)" "$(tb_get "$(tb_client4 $c)" "$URL" 5 | tr '\n' ' ')"
done

step "add a fourth backend: limpetctl backend add $VIP $(tb_backend4 4)"
tb_backend_add 4 || die "backend 4"
limpetctl backend add "$VIP" "$(tb_backend4 4)" || die "backend add 4"
moved=0
for ((c = 0; c < NCLI; c++)); do
	[ "$(tb_get "$(tb_client4 $c)" "$URL")" = "${first[$c]}" ] || moved=$((moved + 1))
done
echo "  existing clients that moved: $moved of $NCLI (the affinity table keeps them in place)"
TB_QUIET=1
ip -n "$TB-cli" -batch - <<<"$(for ((c = NCLI; c < NCLI + 20; c++)); do echo "addr add $(tb_client4 $c)/16 dev cli0"; done)"
declare -A fresh
for ((c = NCLI; c < NCLI + 20; c++)); do
	b=$(tb_get "$(tb_client4 $c)" "$URL")
	fresh[$b]=$((${fresh[$b]:-0} + 1))
done
printf '  20 new clients:'
for b in $(echo "${!fresh[@]}" | tr ' ' '\n' | sort); do printf ' %s=%s' "$b" "${fresh[$b]}"; done
echo "  (be4 gets its share of new clients only)"

TVIP=203.0.113.30:80/tcp
step "session tokens: limpetctl vip add $TVIP policy token token query session_id"
limpetctl vip add "$TVIP" policy token token query session_id || die "token vip add"
for b in 1 2 3 4; do limpetctl backend add "$TVIP" "$(tb_backend4 $b)" || die "token backend add"; done
echo "  a ride-hailing client reconnects from new addresses (mobile handover) with its session id:"
tok_be=
for c in 0 17 42; do
	b=$(tb_in cli curl -s -m 5 --interface "$(tb_client4 $c)" "http://203.0.113.30/?session_id=rider-7f3a" | tr -d '\r')
	printf '  %-12s ?session_id=rider-7f3a -> %s\n' "$(tb_client4 $c)" "$b"
	[ -z "$tok_be" ] && tok_be=$b
	[ "$b" = "$tok_be" ] || die "the session moved from $tok_be to $b"
done
echo "  other sessions from one address spread by token:"
for s in a b c d e f; do
	printf '  %-12s ?session_id=rider-%s    -> %s\n' "$(tb_client4 1)" "$s" \
		"$(tb_in cli curl -s -m 5 --interface "$(tb_client4 1)" "http://203.0.113.30/?session_id=rider-$s" | tr -d '\r')"
done
limpetctl stats | sed -n '/^event/,$p' | awk 'NR == 1 || $2 != 0' | sed 's/^/  /'

step "limpetctl affinity list (first 5) and flows (first 5)"
limpetctl affinity list | head -6 | sed 's/^/  /'
limpetctl flows | head -6 | sed 's/^/  /'
step "inspect with bpftool: bpftool map dump pinned /sys/fs/bpf/limpet/$TB/backends (first entry)"
bpftool map dump pinned "/sys/fs/bpf/limpet/$TB/backends" | head -22 | sed 's/^/  /'
[ "$moved" -eq 0 ] || die "$moved clients moved"
echo
echo "demo done."
