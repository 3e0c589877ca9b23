#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# ip-hash end to end: real nginx backends, real curl clients, the real CLIs, in namespaces.
. "$(dirname "$0")/lib.sh"
TB=lpcore$$
trap tb_cleanup EXIT
NCLI=200
URL=http://$TB_VIP4/

tb_setup 3 $NCLI 40 || { not_ok "testbed"; t_done; exit 1; }
tb_limpet_up 3 || { not_ok "limpet up"; t_done; exit 1; }

declare -A be_of
sticky_fail=0 total=0
declare -A per_be
for ((c = 0; c < 120; c++)); do
	src=$(tb_client4 $c)
	mapfile -t got < <(tb_get "$src" "$URL" 5)
	first=${got[0]:-none}
	for g in "${got[@]}"; do
		[ "$g" = "$first" ] || sticky_fail=$((sticky_fail + 1))
		per_be[$g]=$((${per_be[$g]:-0} + 1))
		total=$((total + 1))
	done
	[ ${#got[@]} -eq 5 ] || sticky_fail=$((sticky_fail + 1))
	be_of[$c]=$first
done
check "120 clients x 5 new connections: every client kept its backend ($sticky_fail misses)" [ $sticky_fail -eq 0 ]
check "600 of 600 requests answered through the VIP (replies carry the VIP as source, else TCP resets)" [ "$total" -eq 600 ]
note "connections per backend: $(for b in "${!per_be[@]}"; do printf '%s=%s ' "$b" "${per_be[$b]}"; done)"
spread=$($PY -c "import sys; v=[int(x) for x in sys.argv[1:]]; print('%.3f' % (max(v)/(sum(v)/3)))" "${per_be[@]}")
check "spread over 3 backends: max/mean $spread <= 1.5" $PY -c "import sys; sys.exit(not (len(sys.argv)==4 and float('$spread') <= 1.5))" "${per_be[@]}"

st=$(limpetctl -j stats)
vip_new=$(jget "$st" "d['vips'][0]['new_flows']")
check "limpet counted $vip_new new flows for 600 connections" [ "$vip_new" -eq 600 ]
counts_match=1
for b in 1 2 3; do
	n=$(jget "$st" "[x['new_flows'] for x in d['backends'] if x['backend']=='10.99.0.$b:80'][0]")
	[ "$n" -eq "${per_be[be$b]:-0}" ] || counts_match=0
	note "backend be$b: limpet new_flows $n, curl saw ${per_be[be$b]:-0}"
done
check "per-backend new-flow counters equal the connections each backend answered" [ $counts_match -eq 1 ]
redir=$(jget "$st" "[x['packets'] for x in d['reasons'] if x['reason']=='fwd_redirect'][0]")
check "packets forwarded in XDP by redirect ($redir)" [ "$redir" -gt 1000 ]

# prefix 24: a whole /24 lands on one backend
limpetctl vip add 203.0.113.11:80/tcp prefix 24
for b in 1 2 3; do limpetctl backend add 203.0.113.11:80/tcp "$(tb_backend4 $b)"; done
declare -A p24
for ((c = 0; c < 40; c++)); do p24[$(tb_get "$(tb_client4 $c)" http://203.0.113.11/)]=1; done
check "prefix 24: 40 clients of one /24 all on one backend (${!p24[*]})" [ ${#p24[@]} -eq 1 ]

# a fourth backend: no existing client moves, new clients reach it
tb_backend_add 4
limpetctl backend add "$TB_VIP4:80/tcp" "$(tb_backend4 4)"
moved=0
for ((c = 0; c < 120; c++)); do
	[ "$(tb_get "$(tb_client4 $c)" "$URL")" = "${be_of[$c]}" ] || moved=$((moved + 1))
done
check "after adding be4: $moved of 120 existing clients moved" [ $moved -eq 0 ]
new4=0
for ((c = 120; c < 160; c++)); do
	g=$(tb_get "$(tb_client4 $c)" "$URL")
	be_of[$c]=$g
	[ "$g" = be4 ] && new4=$((new4 + 1))
done
check "after adding be4: $new4 of 40 new clients reached it" [ $new4 -gt 0 ]

# drain: a long download to the drained backend finishes; no new client gets it
victim=${be_of[0]}
vnum=${victim#be}
tb_try tb_in cli curl -s --max-time 30 --interface "$(tb_client4 0)" -o "$TB_DIR/slow.out" "http://$TB_VIP4/slow.bin" &
dl=$!
sleep 1
peer=$(tb_in cli ss -tnH state established "src $(tb_client4 0)" | awk '{print $4}')
check "the client's socket talks to the VIP ($peer), not to the backend" [ "$peer" = "$TB_VIP4:80" ]
limpetctl backend drain "$TB_VIP4:80/tcp" "$(tb_backend4 "$vnum")"
gotv=0
for ((c = 160; c < 200; c++)); do
	[ "$(tb_get "$(tb_client4 $c)" "$URL")" = "$victim" ] && gotv=$((gotv + 1))
done
check "draining $victim: 0 of 40 new clients sent to it (got $gotv)" [ $gotv -eq 0 ]
check "draining $victim: its existing client keeps it for new connections (affinity)" \
	[ "$(tb_get "$(tb_client4 0)" "$URL")" = "$victim" ]
wait $dl
check "draining $victim: a 4 MiB download in flight during the drain finished byte-exact" \
	cmp -s "$TB_DIR/slow.out" "$TB_DIR/www/big.bin"

# delete: only the deleted backend's clients move
limpetctl backend del "$TB_VIP4:80/tcp" "$(tb_backend4 "$vnum")"
wrong=0 movedv=0
for ((c = 0; c < 160; c++)); do
	g=$(tb_get "$(tb_client4 $c)" "$URL")
	if [ "${be_of[$c]}" = "$victim" ]; then
		[ "$g" != "$victim" ] && [ -n "$g" ] && movedv=$((movedv + 1)) || wrong=$((wrong + 1))
		be_of[$c]=$g
	else
		[ "$g" = "${be_of[$c]}" ] || wrong=$((wrong + 1))
	fi
done
check "after deleting $victim: its $movedv clients moved, $wrong others moved or failed" \
	[ $((wrong == 0 && movedv > 0)) -eq 1 ]

# re-attach (upgrade) during a long download
prog_before=$(jget "$(limpet -j status)" "d['devices'][0]['prog_id']")
tb_try tb_in cli curl -s --max-time 30 --interface "$(tb_client4 5)" -o "$TB_DIR/slow2.out" "http://$TB_VIP4/slow.bin" &
dl=$!
sleep 1
tb_attach
prog_after=$(jget "$(limpet -j status)" "d['devices'][0]['prog_id']")
wait $dl
on_both=$(limpet -j status | grep -o "\"prog_id\":$prog_after" | wc -l)
check "re-attach replaced the program ($prog_before -> $prog_after) on both devices ($on_both)" \
	[ $(($prog_before != $prog_after && on_both == 2)) -eq 1 ]
check "re-attach: a download in flight finished byte-exact" cmp -s "$TB_DIR/slow2.out" "$TB_DIR/www/big.bin"
check "re-attach kept flows and affinities (client 7 still on ${be_of[7]})" \
	[ "$(tb_get "$(tb_client4 7)" "$URL")" = "${be_of[7]}" ]

# IPv6 VIP
limpetctl vip add "[$TB_VIP6]:80/tcp"
for b in 1 2 3; do limpetctl backend add "[$TB_VIP6]:80/tcp" "$(tb_backend6 $b)"; done
declare -A per6
s6=0 n6=0
for ((c = 0; c < 40; c++)); do
	mapfile -t got < <(tb_get "$(tb_client6 $c)" "http://[$TB_VIP6]/" 3)
	for g in "${got[@]}"; do [ "$g" = "${got[0]}" ] || s6=$((s6 + 1)); n6=$((n6 + 1)); done
	per6[${got[0]:-none}]=1
done
check "IPv6 VIP: 40 clients x 3 connections answered ($n6) and sticky ($s6 misses)" \
	[ $((n6 == 120 && s6 == 0)) -eq 1 ]
check "IPv6 VIP: clients spread over several backends (${!per6[*]})" [ ${#per6[@]} -ge 2 ]

t_done
