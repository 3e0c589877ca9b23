#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet replay over Katran's fixture corpus with that corpus's VIPs configured: every frame gets
# a deliberate verdict, every rewritten frame is well-formed, and where limpet's verdict differs
# from Katran's the difference is one of the listed, intended ones. Then the same VIPs in mode
# ipip (10.200.1.3 with IPv6 backends, as in Katran's): limpet's encapsulations against Katran's
# expected frames — the same outer family and protocol, the inner datagram byte for byte.
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
V4S="10.200.1.1:80/udp 10.200.1.1:80/tcp 10.200.1.2:0/tcp 10.200.1.3:80/tcp 10.200.1.4:0/tcp 10.200.1.5:443/udp 10.200.1.6:80/udp"
V6S="[fc00:1::1]:80/tcp [fc00:1::2]:443/udp"
for v in $V4S; do
	limpetctl vip add $v
	for b in 10.0.0.1 10.0.0.2 10.0.0.3; do limpetctl backend add $v $b; done
done
for v in $V6S; do
	limpetctl vip add "$v"
	for b in fc00::1 fc00::2 fc00::3; do limpetctl backend add "$v" $b; done
done
before=$(limpetctl -j stats)
limpet -j replay "$CORPUS/katran_fixtures_all_inputs.pcap" out "$TB_DIR/out.pcap" >"$TB_DIR/replay.json"
check "limpet replay ran over the corpus" [ -s "$TB_DIR/replay.json" ]
check "replay left the live counters alone" [ "$before" = "$(limpetctl -j stats)" ]

(
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
PY
) | tee "$TB_DIR/nat.tap"
T_N=$((T_N + $(grep -cE '^(ok|not ok) ' "$TB_DIR/nat.tap")))
T_FAILED=$((T_FAILED + $(grep -cE '^not ok ' "$TB_DIR/nat.tap")))

# The same VIPs in mode ipip, the backends on r0 (fixed neighbours), replayed as arriving on r0.
for v in $V4S $V6S; do limpetctl vip del "$v"; done
ip -n "$TB-lb" addr add 10.0.0.254/24 dev r0
ip -n "$TB-lb" addr add fc00::fe/64 dev r0 nodad
ip -n "$TB-lb" link set r1 up
tb_in lb sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
for i in 1 2 3; do
	ip -n "$TB-lb" neigh replace 10.0.0.$i lladdr 02:00:00:00:00:0$i dev r0 nud permanent
	ip -n "$TB-lb" neigh replace fc00::$i lladdr 02:00:00:00:00:0$i dev r0 nud permanent
done
for v in $V4S $V6S; do
	limpetctl vip add "$v" mode ipip
	case $v in
	10.200.1.3:*) bs="fc00::1 fc00::2 fc00::3" ;; # IPv4 in IPv6, as Katran's fixtures have it
	10.200.1.5:*) bs="10.0.0.1 10.0.0.2 fc00::1 fc00::2" ;; # both families, as Katran's
	10.*) bs="10.0.0.1 10.0.0.2 10.0.0.3" ;;
	*) bs="fc00::1 fc00::2 fc00::3" ;;
	esac
	for b in $bs; do limpetctl backend add "$v" $b; done
done
limpet -j replay "$CORPUS/katran_fixtures_all_inputs.pcap" out "$TB_DIR/ipip.pcap" dev r0 >"$TB_DIR/ipip.json"
check "limpet replay in mode ipip ran over the corpus" [ -s "$TB_DIR/ipip.json" ]
$PY - "$TB_DIR/ipip.json" "$CORPUS/katran_fixtures.jsonl" "$TB_DIR/ipip.pcap" "$T_N" "$E2E_ROOT/tools" <<'PY' |
import base64, json, socket, struct, sys
sys.path.insert(0, sys.argv[5])
import fuzz_frames
frames = json.load(open(sys.argv[1]))['frames']
katran = [json.loads(l) for l in open(sys.argv[2])]
outs = fuzz_frames.pcap_read(sys.argv[3])
n = int(sys.argv[4])
def result(ok, name, detail=()):
    global n
    n += 1
    print(('ok' if ok else 'not ok'), n, '-', name)
    for d in detail[:15]:
        print('#', d)

def outer(fr):
    """(family, next protocol, header size, outer header) of an IPIP/IPv6 frame, or None."""
    et = fr[12:14]
    if et == b'\x08\x00' and fr[14] >> 4 == 4 and fr[23] == 4:
        return 4, 4, 20, fr[14:34]
    if et == b'\x86\xdd' and fr[20] in (4, 41):
        return 6, fr[20], 40, fr[14:54]
    return None

BACKENDS = {4: {socket.inet_aton('10.0.0.%d' % i) for i in (1, 2, 3)},
            6: {socket.inet_pton(socket.AF_INET6, 'fc00::%d' % i) for i in (1, 2, 3)}}

MIXED = socket.inet_aton('10.200.1.5')

def second(fr, fam, hs, h):
    """Does a second outer header (second chance: from limpet's source to a backend) follow?"""
    s = fr[14 + hs:14 + 2 * hs]
    if fam == 4:
        return len(s) == 20 and h[9] == 4 and s[9] == 4 and s[12:16] == h[12:16] and s[16:20] in BACKENDS[4]
    return len(s) == 40 and h[6] == 41 and s[8:24] == h[8:24] and s[24:40] in BACKENDS[6]

compared, bad, diffs = 0, [], set()
for k, f, o in zip(katran, frames, outs):
    if k['expected'] not in ('XDP_TX', 'XDP_REDIRECT') or not k.get('expected_output_b64'):
        continue
    ko = base64.b64decode(k['expected_output_b64'])
    kh = outer(ko)
    if not kh:
        continue  # GUE, ICMP replies: not limpet's encapsulation
    what = '%s #%s %s' % (k['set'], k['idx'], k['description'][:60])
    if 'ICMP' in k['description'] and f['reason'] == 'pass_l4_other':
        diffs.add('ICMP to a VIP goes to the kernel (Katran sends ICMP errors to a backend)')
        continue
    if not f['reason'].startswith('fwd_'):
        bad.append('%s: Katran encapsulates, limpet %s' % (what, f['reason']))
        continue
    lh = outer(o)
    compared += 1
    if lh and second(o, *lh[0:1], lh[2], lh[3]):
        # a mid-connection packet without a flow here: limpet adds the slot's previous owner
        diffs.add('a second outer header (second chance) on a mid-connection packet no flow here holds')
        nxt = o[14 + lh[2] + 9] if lh[0] == 4 else o[14 + lh[2] + 6]
        lh = (lh[0], nxt, lh[2], lh[3])
        o = o[:14 + lh[2]] + o[14 + 2 * lh[2]:]  # judged without it below (lengths: the first's)
        slen = lh[2]
    else:
        slen = 0
    if lh and lh[0] != kh[0] and k['input_b64'] and base64.b64decode(k['input_b64'])[30:34] == MIXED:
        # a VIP with backends of both families: the backend each picks sets the outer family
        diffs.add('which backend: each picks by its own hash (for a VIP with IPv4 and IPv6 backends, '
                  'so also the outer family)')
        if o[14 + lh[2]:] != ko[14 + kh[2]:]:
            bad.append('%s: the inner datagram differs from Katran\'s' % what)
        continue
    if not lh or lh[:3] != kh[:3]:
        bad.append('%s: outer %s, Katran %s' % (what, lh and lh[:2], kh[:2]))
        continue
    fam, _, hs, h = lh
    if o[14 + hs:] != ko[14 + hs:]:
        bad.append('%s: the inner datagram differs from Katran\'s' % what)
    dst = h[16:20] if fam == 4 else h[24:40]
    if dst not in BACKENDS[fam]:
        bad.append('%s: outer destination not a backend' % what)
    if fam == 4:
        if struct.unpack('!H', h[2:4])[0] != len(o) - 14 + slen or fuzz_frames.csum(h) != 0xffff:
            bad.append('%s: outer IPv4 length or checksum' % what)
        if h[1] != kh[3][1] or h[8] != kh[3][8]:
            bad.append('%s: outer TOS/TTL %d/%d, Katran %d/%d' % (what, h[1], h[8], kh[3][1], kh[3][8]))
        if h[6] & 0x40 and not kh[3][6] & 0x40:
            diffs.add('limpet sets DF on the outer IPv4 header (the path MTU is answered with ICMP)')
    else:
        if struct.unpack('!H', h[4:6])[0] != len(o) - 54 + slen or h[7] != kh[3][7]:
            bad.append('%s: outer IPv6 payload length or hop limit' % what)
        if (h[0] & 0x0f, h[1] >> 4) != (kh[3][0] & 0x0f, kh[3][1] >> 4):
            bad.append('%s: outer traffic class differs from Katran\'s' % what)
        if (h[1] & 0x0f, h[2], h[3]) != (kh[3][1] & 0x0f, kh[3][2], kh[3][3]):
            diffs.add('the outer IPv6 flow label: limpet\'s is the flow hash')
    ks = kh[3][12:16] if fam == 4 else kh[3][8:24]
    if (h[12:16] if fam == 4 else h[8:24]) != ks:
        diffs.add('the outer source: limpet\'s is the host\'s address toward the backend (or encap-source); Katran\'s its own scheme')
    if dst != (kh[3][16:20] if fam == 4 else kh[3][24:40]):
        diffs.add('which backend: each picks by its own hash')
for d in sorted(diffs):
    print('# differs from Katran by design:', d)
kinds = sorted({(outer(base64.b64decode(k['expected_output_b64'])) or (0, 0))[:2] for k in katran
                if k.get('expected_output_b64') and k['expected'] == 'XDP_TX'} - {(0, 0)})
result(compared >= 30 and not bad,
       '%d of Katran\'s IPIP, IP6IP6 and IPv4-in-IPv6 frames: limpet encapsulates them alike (outer family '
       'and protocol, TOS/class, TTL, lengths), the inner datagram byte for byte' % compared, bad)
# Katran answers a packet too big for the tunnel with ICMP from the VIP to the client; so does limpet
def icmp_head(fr):
    """(addresses, ICMP type and code) of an ICMP or ICMPv6 reply frame."""
    return (fr[26:34], fr[34:36]) if fr[12:14] == b'\x08\x00' else (fr[22:54], fr[54:56])
def no_df(fr):
    return fr[12:14] == b'\x08\x00' and not fr[20] & 0x40
tb = [(k, f, o, base64.b64decode(k['input_b64'])) for k, f, o in zip(katran, frames, outs)
      if k['set'] == 'icmpTooBigTestFixtures']
bad = ['%s #%s: limpet %s' % (k['set'], k['idx'], f['reason']) for k, f, o, i in tb
       if not (no_df(i) and f['reason'] == 'drop_too_big') and
       (f['reason'] != 'tx_too_big' or icmp_head(o) != icmp_head(base64.b64decode(k['expected_output_b64'])))]
if any(no_df(i) for k, f, o, i in tb):
    print('# differs from Katran by design: an IPv4 packet without DF is dropped, not answered (no ICMP is due: '
          'the sender allows fragmenting, which XDP cannot do)')
result(len(tb) == 2 and not bad and any(f['reason'] == 'tx_too_big' for k, f, o, i in tb),
       'Katran\'s packet-too-big fixtures: limpet answers alike (ICMP from the VIP to the client, the same '
       'type and code)', bad)
PY
	tee "$TB_DIR/ipip.tap"
T_N=$((T_N + $(grep -cE '^(ok|not ok) ' "$TB_DIR/ipip.tap")))
T_FAILED=$((T_FAILED + $(grep -cE '^not ok ' "$TB_DIR/ipip.tap")))

# a file cut short, inside the second record's header or its frame: the first frame's verdict,
# then one error line, exit 1 (a cut header was read as the file's end, exit 0)
/usr/bin/python3 - "$CORPUS/katran_fixtures_all_inputs.pcap" "$TB_DIR" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
end = '<' if d[:4] == b'\xd4\xc3\xb2\xa1' else '>'
second = 24 + 16 + struct.unpack(end + 'I', d[24 + 8:24 + 12])[0]
open(sys.argv[2] + '/cut_hdr.pcap', 'wb').write(d[:second + 8])
open(sys.argv[2] + '/cut_frame.pcap', 'wb').write(d[:second + 16 + 10])
PY
for cut in hdr frame; do
	out=$(limpet replay "$TB_DIR/cut_$cut.pcap" 2>"$TB_DIR/cut.err")
	rc=$?
	check "a pcap cut inside a record's $cut: frame 1 replayed, then one error line, exit 1 ($(cat "$TB_DIR/cut.err"))" \
		[ $rc -eq 1 -a "$(echo "$out" | grep -c '^1 ')" -eq 1 -a "$(wc -l <"$TB_DIR/cut.err")" -eq 1 -a \
		-n "$(grep 'truncated or corrupt after frame 1' "$TB_DIR/cut.err")" ]
done
t_done
