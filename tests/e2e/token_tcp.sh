#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# TCP session tokens end to end (delayed binding, docs/design.md §6): real curl clients and nginx
# backends; a session keeps its backend from any client address.
. "$(dirname "$0")/lib.sh"
TB=lptokt$$
trap tb_cleanup EXIT
NCLI=200

tb_setup 3 $NCLI 40 || { not_ok "testbed"; t_done; exit 1; }
head -c 20971520 /dev/urandom >"$TB_DIR/www/big20.bin"
head -c 2097152 /dev/urandom >"$TB_DIR/up2.bin"
for b in 1 2 3; do ip netns exec "$TB-be$b" sysctl -qw net.ipv4.tcp_fastopen=0x603; done
tb_attach || { not_ok "attach"; t_done; exit 1; }
VQ=203.0.113.30 VC=203.0.113.31 VH=203.0.113.32 VS=203.0.113.33
limpetctl vip add $VQ:80/tcp policy token token query session_id
limpetctl vip add $VC:80/tcp policy token token cookie SESSION
limpetctl vip add $VH:80/tcp policy token token header X-Session-Id
limpetctl vip add $VS:80/tcp policy token token query session_id syn-data on
for v in $VQ $VC $VH $VS; do for b in 1 2 3; do limpetctl backend add $v:80/tcp "$(tb_backend4 $b)"; done; done

get() { # SRC URL [curl args...]
	local src=$1 url=$2
	shift 2
	tb_try tb_in cli curl -s -f --connect-timeout 2 -m 5 --interface "$src" "$@" "$url" | tr -d '\r'
}

# the events counter NAME now
evc() { jget "$(limpetctl -j stats)" "[e['count'] for e in d['events'] if e['event']=='$1'][0]"; }

# 200 sessions, each from 3 different client addresses, the token first, second or third among
# the query's parameters (the fallback would split them: every one must be found)
: >"$TB_DIR/q"
f0=$(evc token_found) m0=$(evc token_missing)
qs=("session_id=%s&v=2" "v=2&session_id=%s" "a=1&b=session_idx&session_id=%s")
for s in $(seq 1 200); do
	for hop in 0 1 2; do
		# shellcheck disable=SC2059
		echo "$s $(get "$(tb_client4 $(((s * 7 + hop * 61) % NCLI)))" "http://$VQ/?$(printf "${qs[$hop]}" "user$s")")"
	done
done >"$TB_DIR/q"
f1=$(evc token_found) m1=$(evc token_missing)
check "query token: found in all 600 requests wherever it stands ($((f1 - f0)) found, $((m1 - m0)) missing)" \
	[ $((f1 - f0)) -eq 600 -a $((m1 - m0)) -eq 0 ]
answered=$(awk '$2 ~ /^be/' "$TB_DIR/q" | wc -l)
check "query token: 600 of 600 requests (200 sessions x 3 addresses) answered ($answered)" [ "$answered" -eq 600 ]
split=$(awk '{if (!($1 in b)) b[$1]=$2; else if (b[$1]!=$2) n++} END {print n+0}' "$TB_DIR/q")
check "query token: every session on one backend from every address ($split moved)" [ "$split" -eq 0 ]
spread=$(awk '{b[$1]=$2} END {for (s in b) c[b[s]]++; m=0; for (x in c) {if (c[x]>m) m=c[x]; printf "%s=%d ", x, c[x] > "/dev/stderr"} printf "%.3f", m/(200/3)}' "$TB_DIR/q" 2>"$TB_DIR/spread")
check "query token: sessions spread max/mean $spread <= 1.5 ($(cat "$TB_DIR/spread"))" \
	$PY -c "import sys; sys.exit(not float('$spread') <= 1.5)"

# cookies: the header's name in any case, the token among other cookies
f0=$(evc token_found)
c1=$({
	get "$(tb_client4 0)" "http://$VC/" -H 'Cookie: theme=dark; SESSION=s3cr3t; lang=en'
	get "$(tb_client4 50)" "http://$VC/" -H 'cookie: lang=en; SESSION=s3cr3t'
	get "$(tb_client4 100)" "http://$VC/" -H 'COOKIE: a=1; XSESSION=no; SESSION=s3cr3t'
} | sort -u)
check "cookie token: one session from 3 addresses, one backend ($c1)" [ "$(echo "$c1" | wc -l)" -eq 1 ]
cs=$(for s in $(seq 1 40); do get "$(tb_client4 $s)" "http://$VC/" -H "Cookie: pref=$s; SESSION=c$s"; done | sort -u | wc -l)
check "cookie token: 40 sessions reach all 3 backends ($cs)" [ "$cs" -eq 3 ]
f1=$(evc token_found)
check "cookie token: found in all 43 requests ($((f1 - f0)))" [ $((f1 - f0)) -eq 43 ]
# headers: the name matched in any case (the VIP says X-Session-Id)
h1=$({
	get "$(tb_client4 1)" "http://$VH/" -H 'x-session-id: abc-123'
	get "$(tb_client4 51)" "http://$VH/" -H 'X-SESSION-ID: abc-123'
	get "$(tb_client4 101)" "http://$VH/" -H 'X-Other: 1' -H 'x-Session-ID: abc-123'
} | sort -u)
check "header token (case-insensitive name): one backend ($h1)" [ "$(echo "$h1" | wc -l)" -eq 1 ]
hs=$(for s in $(seq 1 40); do get "$(tb_client4 $s)" "http://$VH/" -H "x-SESSION-id: h$s"; done | sort -u | wc -l)
check "header token: 40 sessions reach all 3 backends ($hs)" [ "$hs" -eq 3 ]
f2=$(evc token_found)
check "header token: found in all 43 requests ($((f2 - f1)))" [ $((f2 - f1)) -eq 43 ]

ev0=$(limpetctl -j stats)
sd=$(for c in 3 53 103; do get "$(tb_client4 $c)" "http://$VS/?session_id=fast1"; done | sort -u)
check "syn-data on: one session, one backend ($sd)" [ "$(echo "$sd" | wc -l)" -eq 1 ]

# no token: the fallback (ip-hash), counted
miss0=$(jget "$ev0" "[e['count'] for e in d['events'] if e['event']=='token_missing'][0]")
nt=$(get "$(tb_client4 9)" "http://$VQ/")
miss1=$(jget "$(limpetctl -j stats)" "[e['count'] for e in d['events'] if e['event']=='token_missing'][0]")
check "no token: served by the fallback ($nt) and counted ($miss0 -> $miss1)" \
	[ $(( miss1 == miss0 + 1 )) -eq 1 ]

# adding a backend moves no live session
tb_backend_add 4
ip netns exec "$TB-be4" sysctl -qw net.ipv4.tcp_fastopen=0x603
limpetctl backend add $VQ:80/tcp "$(tb_backend4 4)"
moved=0
for s in $(seq 1 200 | awk 'NR % 4 == 1'); do
	want=$(awk -v s=$s '$1==s {print $2; exit}' "$TB_DIR/q")
	[ "$(get "$(tb_client4 $(((s * 13) % NCLI)))" "http://$VQ/?session_id=user$s")" = "$want" ] || moved=$((moved + 1))
done
check "after adding be4: $moved of 50 live sessions moved" [ "$moved" -eq 0 ]
new4=$(for s in $(seq 300 339); do get "$(tb_client4 $((s % NCLI)))" "http://$VQ/?session_id=new$s"; done | grep -c be4)
check "after adding be4: $new4 of 40 new sessions reached it" [ "$new4" -gt 0 ]

# byte-exact transfers through spliced connections
get "$(tb_client4 11)" "http://$VQ/files/big20.bin?session_id=dl1" -o "$TB_DIR/dl.bin"
check "20 MiB download through a token VIP is byte-exact" cmp -s "$TB_DIR/dl.bin" "$TB_DIR/www/big20.bin"
up=$(get "$(tb_client4 12)" "http://$VQ/upload?session_id=up1" --data-binary @"$TB_DIR/up2.bin")
upbe=${up%% *}
stored=$(ls -t "$TB_DIR/$upbe/body/"* 2>/dev/null | head -1)
check "2 MiB upload through a token VIP reached $upbe byte-exact" cmp -s "$stored" "$TB_DIR/up2.bin"

tb_in cli sysctl -qw net.ipv4.tcp_timestamps=0
get "$(tb_client4 13)" "http://$VQ/big.bin?session_id=nots" -o "$TB_DIR/dl2.bin"
check "a client with timestamps off: 4 MiB download byte-exact" cmp -s "$TB_DIR/dl2.bin" "$TB_DIR/www/big.bin"
tb_in cli sysctl -qw net.ipv4.tcp_timestamps=1

# IPv6: the same binding over IPv6 (no extension headers)
V6=2001:db8:f::30
limpetctl vip add "[$V6]:80/tcp" policy token token query session_id
for b in 1 2 3; do limpetctl backend add "[$V6]:80/tcp" "$(tb_backend6 $b)"; done
for s in $(seq 1 20); do
	for hop in 0 1 2; do
		echo "$s $(get "$(tb_client6 $(((s * 3 + hop * 13) % 40)))" "http://[$V6]/?session_id=v6user$s")"
	done
done >"$TB_DIR/q6"
a6=$(awk '$2 ~ /^be/' "$TB_DIR/q6" | wc -l)
s6=$(awk '{if (!($1 in b)) b[$1]=$2; else if (b[$1]!=$2) n++} END {print n+0}' "$TB_DIR/q6")
n6=$(awk '{print $2}' "$TB_DIR/q6" | sort -u | wc -l)
check "IPv6 token VIP: 60 of 60 answered ($a6), sessions sticky across addresses ($s6 moved), spread over $n6 backends" \
	[ $((a6 == 60 && s6 == 0 && n6 >= 2)) -eq 1 ]
get "$(tb_client6 5)" "http://[$V6]/big.bin?session_id=v6dl" -o "$TB_DIR/dl6.bin"
check "IPv6 token VIP: 4 MiB download byte-exact" cmp -s "$TB_DIR/dl6.bin" "$TB_DIR/www/big.bin"

# an upgrade (attach again) keeps answering SYNs and keeps spliced sessions' backends
tb_attach
up4=$(get "$(tb_client4 21)" "http://$VQ/?session_id=user1")
up6=$(get "$(tb_client6 21)" "http://[$V6]/?session_id=v6user1")
check "after re-attach: token sessions still answered on their backends ($up4, $up6)" \
	[ "$up4 $up6" = "$(awk '$1==1 {print $2; exit}' "$TB_DIR/q") $(awk '$1==1 {print $2; exit}' "$TB_DIR/q6")" ]

st=$(limpetctl -j stats)
for e in synack_sent cookie_ok bind_started bind_done token_found; do
	note "$e: $(jget "$st" "[x['count'] for x in d['events'] if x['event']=='$e'][0]")"
done
bs=$(jget "$st" "[x['count'] for x in d['events'] if x['event']=='bind_started'][0]")
bd=$(jget "$st" "[x['count'] for x in d['events'] if x['event']=='bind_done'][0]")
check "every binding started completed ($bs started, $bd done)" [ "$bs" -eq "$bd" ]
t_done
