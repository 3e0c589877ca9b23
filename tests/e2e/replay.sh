#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet replay over Katran's fixture corpus with that corpus's VIPs configured: every frame gets
# a deliberate verdict, every rewritten frame is well-formed, and where limpet's verdict differs
# from Katran's the difference is one of the listed, intended ones.
. "$(dirname "$0")/lib.sh"
TB=lprpl$$
trap tb_cleanup EXIT
CORPUS=${LIMPET_CORPUS:-$E2E_ROOT/../shared/corpus/katran-fixtures}
if [ ! -f "$CORPUS/katran_fixtures_all_inputs.pcap" ]; then
	echo "SKIP: Katran corpus not found at $CORPUS (set LIMPET_CORPUS to the katran-fixtures directory)"
	exit 77
fi
TB_DIR=$(mktemp -d)
ip netns add "$TB-lb"
ip -n "$TB-lb" link add r0 type veth peer name r1
ip -n "$TB-lb" link set r0 up
limpet attach dev r0 >/dev/null
for v in 10.200.1.1:80/udp 10.200.1.1:80/tcp 10.200.1.2:0/tcp 10.200.1.3:80/tcp 10.200.1.4:0/tcp \
	10.200.1.5:443/udp 10.200.1.6:80/udp; do
	limpetctl vip add $v
	for b in 10.0.0.1 10.0.0.2 10.0.0.3; do limpetctl backend add $v $b; done
done
for v in "[fc00:1::1]:80/tcp" "[fc00:1::2]:443/udp"; do
	limpetctl vip add "$v"
	for b in fc00::1 fc00::2 fc00::3; do limpetctl backend add "$v" $b; done
done
before=$(limpetctl -j stats)
limpet -j replay "$CORPUS/katran_fixtures_all_inputs.pcap" out "$TB_DIR/out.pcap" >"$TB_DIR/replay.json"
check "limpet replay ran over the corpus" [ -s "$TB_DIR/replay.json" ]
check "replay left the live counters alone" [ "$before" = "$(limpetctl -j stats)" ]

$PY - "$TB_DIR/replay.json" "$CORPUS/katran_fixtures.jsonl" "$TB_DIR/out.pcap" "$T_N" \
	"$CORPUS/katran_fixtures_all_inputs.pcap" "$E2E_ROOT/tools" <<'PY'
import json, struct, sys
sys.path.insert(0, sys.argv[6])
import fuzz_frames  # an independent parser, to judge the corpus's own input frames
frames = json.load(open(sys.argv[1]))['frames']
katran = [json.loads(l) for l in open(sys.argv[2])]
n = int(sys.argv[4])
failed = 0
def result(ok, name, detail=()):
    global n, failed
    n += 1
    failed += not ok
    print(('ok' if ok else 'not ok'), n, '-', name)
    for d in detail[:15]:
        print('#', d)

result(len(frames) == len(katran) == 161, 'one verdict per corpus frame (%d)' % len(frames))

# the output pcap holds as many frames
data = open(sys.argv[3], 'rb').read()
off, count = 24, 0
while off + 16 <= len(data):
    caplen = struct.unpack('<I', data[off + 8:off + 12])[0]
    off += 16 + caplen
    count += 1
result(count == 161, 'out.pcap holds %d frames' % count)

bad = [f for f in frames if f['reason'] == '?' or f['verdict'] not in ('PASS', 'DROP', 'TX', 'REDIRECT')]
result(not bad, 'every frame has a deliberate, counted verdict', [str(f) for f in bad])

fwd = [f for f in frames if f['reason'].startswith('fwd_')]
inputs = fuzz_frames.pcap_read(sys.argv[5])
# a frame whose checksum was already wrong in the corpus keeps it wrong (never made valid)
kept = [f for f in fwd if f['verifies'].endswith('checksum') and
        not fuzz_frames.parse(inputs[f['frame'] - 1]).csum_ok]
bad = [f for f in fwd if (f['verifies'] != 'ok' and f not in kept) or f['out'] in ('unchanged', '-')]
result(fwd and not bad, '%d rewritten frames: lengths and checksums verified from scratch '
       '(%d kept the bad checksum their corpus input had)' % (len(fwd), len(kept)),
       [str(f) for f in bad])
bad = [f for f in frames if not f['reason'].startswith('fwd_') and f['out'] != 'unchanged']
result(not bad, 'every frame not forwarded is passed or dropped unchanged', [str(f) for f in bad])

backends = ('10.0.0.1', '10.0.0.2', '10.0.0.3', '[fc00::1]', '[fc00::2]', '[fc00::3]')
bad = [f for f in fwd if not f['out'].split(' > ')[1].rsplit(':', 1)[0] in backends
       or f['in'].split(' > ')[0] != f['out'].split(' > ')[0]
       or f['in'].split(' > ')[1].rsplit(':', 1)[1] != f['out'].split(' > ')[1].rsplit(':', 1)[1]]
result(not bad, 'rewrites go to a configured backend, client source and port kept', [str(f) for f in bad])

# Where limpet and Katran differ, by design or because the feature is Katran's own.
KATRAN_ONLY = ('cidrVipTestFixtures', 'egressDecapTestFixtures', 'hcTestFixtures', 'hcGueTestFixtures',
               'udpFlowMigrationTestFirstFixtures', 'udpFlowMigrationTestSecondFixtures',
               'udpStableRtFixtures', 'xPopDecapTestFixtures')
def intended(k, f):
    d = k['description']
    if k['set'] in KATRAN_ONLY:
        return 'Katran-only feature (CIDR VIPs, decap, health-check TC, stable routing): not configured here'
    if 'ICMP' in d and f['reason'] == 'pass_l4_other':
        return ('ICMP to a VIP goes to the kernel: echo always, errors when they quote no flow '
                'limpet holds (a replay starts with none; Katran routes them by hash)')
    if 'options' in d and f['reason'].startswith('fwd_'):
        return 'IPv4 options: limpet NATs them (Katran drops)'
    if 'TOOBIG' in d and f['reason'].startswith('fwd_'):
        return 'NAT does not grow the frame, so no PACKET_TOOBIG (Katran encapsulates)'
    return None
mismatch, explained = [], {}
for k, f in zip(katran, frames):
    kf = k['expected'] in ('XDP_TX', 'XDP_REDIRECT')
    lf = f['reason'].startswith('fwd_')
    if kf == lf:
        continue
    why = intended(k, f)
    if why:
        explained[why] = explained.get(why, 0) + 1
    else:
        mismatch.append('%s #%s %s: katran %s, limpet %s' % (k['set'], k['idx'], k['description'],
                                                             k['expected'], f['reason']))
for why, c in explained.items():
    print('# differs from Katran by design (%d frames): %s' % (c, why))
result(not mismatch, 'every other frame: limpet forwards exactly what Katran forwards', mismatch)
print('1..%d' % n)
sys.exit(1 if failed else 0)
PY
