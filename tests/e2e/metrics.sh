#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The daemon's Prometheus metrics: valid exposition (promtool check metrics), figures that match
# the traffic sent, and a real Prometheus server scraping them (bounded: 30 s at most).
. "$(dirname "$0")/lib.sh"
TB=lpmet$$
DPID= PPID_=
trap '[ -n "$DPID" ] && kill $DPID 2>/dev/null; [ -n "$PPID_" ] && kill $PPID_ 2>/dev/null; tb_cleanup' EXIT
URL=http://$TB_VIP4/
PORT=9810

tb_setup 2 20 || { not_ok "testbed"; t_done; exit 1; }
conf=$TB_DIR/limpet.conf
cat >"$conf" <<EOF
attach dev lbc
attach dev lbb
vip add $TB_VIP4:80/tcp
backend add $TB_VIP4:80/tcp $(tb_backend4 1)
backend add $TB_VIP4:80/tcp $(tb_backend4 2)
vip add 203.0.113.50:80/tcp
metrics listen 127.0.0.1:$PORT
announce dev lo
EOF
nsenter --net="/run/netns/$TB-lb" "$TB_BUILD/limpet" -i "$TB" run -c "$conf" 2>"$TB_DIR/daemon.log" &
DPID=$!
scrape() { tb_in lb curl -s -m 3 "http://127.0.0.1:$PORT${1:-/metrics}"; }
for i in $(seq 50); do scrape >/dev/null && break; sleep 0.1; done
check "the daemon serves /metrics on the configured address" scrape
# the VIP's address is on lo now, a local address: replies limpet cannot address itself yet (a new
# client's neighbour) go by its TC step, not by the kernel's forwarding, to which a reply from
# the VIP would be a martian
for ((c = 0; c < 20; c++)); do tb_get "$(tb_client4 $c)" "$URL" 3 >/dev/null; done
scrape >"$TB_DIR/m.txt"
check "promtool check metrics: the exposition is valid" \
	bash -c "promtool check metrics <'$TB_DIR/m.txt' >'$TB_DIR/promtool.out' 2>&1"
[ -s "$TB_DIR/promtool.out" ] && note "promtool: $(head -3 "$TB_DIR/promtool.out")"
val() { # METRIC-WITH-LABELS-REGEX: the sum of matching samples
	awk -v re="^$1 " '$0 ~ re {s += $NF} END {print s + 0}' "$TB_DIR/m.txt"
}
nf=$(val "limpet_backend_new_flows_total\\{vip=\"$TB_VIP4:80/tcp\",backend=\"[^\"]*\"\\}")
check "the backends' new flows add up to the 60 connections made ($nf)" [ "$nf" = 60 ]
vp=$(val "limpet_vip_packets_total\\{vip=\"$TB_VIP4:80/tcp\"\\}")
bp=$(val "limpet_backend_packets_total\\{vip=\"$TB_VIP4:80/tcp\",backend=\"[^\"]*\"\\}")
check "the VIP's packets equal its backends' ($vp = $bp, > 0)" [ "$vp" = "$bp" -a "$vp" -gt 0 ]
rs=$(val 'limpet_reason_packets_total\{reason="[a-z0-9_]*"\}')
check "every reason is there, and they count more packets than went to backends ($rs)" \
	[ "$(grep -c '^limpet_reason_packets_total{' "$TB_DIR/m.txt")" -ge 20 -a "$rs" -gt "$vp" ]
check "tables: limpet_flows, limpet_affinities and their capacity" \
	bash -c "grep -q '^limpet_flows ' '$TB_DIR/m.txt' && grep -q '^limpet_affinities ' '$TB_DIR/m.txt' && grep -q '^limpet_table_capacity{table=\"flows\"} [1-9]' '$TB_DIR/m.txt'"
check "limpet_vip_announced: 1 for the VIP with backends, 0 for the one without" \
	[ "$(val "limpet_vip_announced\\{vip=\"$TB_VIP4:80/tcp\"\\}")" = 1 -a \
	"$(grep -c '^limpet_vip_announced{vip="203.0.113.50:80/tcp"} 0$' "$TB_DIR/m.txt")" = 1 ]
check "other paths: 404" bash -c "[ \"\$(ip netns exec $TB-lb curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/)\" = 404 ]"
# the tables' counts come from an iterator program the daemon loads once and keeps: scrapes
# neither load nor verify it again (nor leave a program load per scrape in the audit log)
count_progs() { bpftool prog show name limpet_count -j 2>/dev/null |
	jq -rs '[.[] | if type == "array" then .[] else . end | .id | tostring] | join(",")'; }
scrape >/dev/null
ids1=$(count_progs)
scrape >/dev/null
scrape >/dev/null
ids2=$(count_progs)
check "scrapes reuse the daemon's one count iterator (program ${ids1:-none}, then ${ids2:-none})" \
	[ -n "$ids1" -a "$ids1" = "$ids2" -a "${ids1//[0-9]/}" = "" ]

# a real Prometheus scrapes it
cat >"$TB_DIR/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: limpet
    static_configs: [ { targets: ['127.0.0.1:$PORT'] } ]
EOF
tb_in lb timeout 40 prometheus --config.file="$TB_DIR/prometheus.yml" --storage.tsdb.path="$TB_DIR/tsdb" \
	--web.listen-address=127.0.0.1:9091 >"$TB_DIR/prometheus.log" 2>&1 &
PPID_=$!
got=
for i in $(seq 60); do
	got=$(tb_in lb curl -s -m 2 "http://127.0.0.1:9091/api/v1/query?query=sum(limpet_backend_new_flows_total)" |
		$PY -c "import json,sys; r=json.load(sys.stdin)['data']['result']; print(r[0]['value'][1] if r else '')" 2>/dev/null)
	[ -n "$got" ] && break
	sleep 0.5
done
check "Prometheus scraped limpet: sum(limpet_backend_new_flows_total) = ${got:-nothing}" [ "$got" = 60 ]
up=$(tb_in lb curl -s -m 2 "http://127.0.0.1:9091/api/v1/query?query=up" |
	$PY -c "import json,sys; r=json.load(sys.stdin)['data']['result']; print(r[0]['value'][1] if r else '')" 2>/dev/null)
check "its target is up ($up)" [ "$up" = 1 ]
t_done
