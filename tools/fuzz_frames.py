#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Malformed-packet fuzzing for limpet replay: frames and an independent checker (stdlib only).

  fuzz_frames.py gen SEED COUNT OUT.pcap CLASSES.txt [CORPUS.pcap]
      Well-formed frames for the VIPs tests/e2e/fuzz.sh configures (every policy, v4 and v6,
      TCP/UDP/ICMP, options, fragments, VLAN, extension headers, Routing headers, padding),
      the corpus frames, then COUNT mutated copies (fixed seed), one class per frame.
  fuzz_frames.py check IN.pcap OUT.pcap REPLAY.json CLASSES.txt
      Judges every frame with its own parser (it shares no code with limpet's datapath or the
      replay verifier) and prints TAP lines and per-class figures.

The parser below follows the RFCs (791, 8200, 793/9293, 768, 792, 4443), not limpet's code.
"""
import json
import random
import struct
import sys
from ipaddress import ip_address

# What tests/e2e/fuzz.sh configures: VIP address -> backend address (one backend per VIP, so
# the generator knows who replies).
VIPS4 = {'10.210.0.1': '10.98.0.1', '10.210.0.2': '10.98.0.2', '10.210.0.3': '10.98.0.3',
         '10.210.0.4': '10.98.0.4', '10.210.0.5': '10.98.0.5'}
VIPS6 = {'fd10::1': 'fd98::1', 'fd10::4': 'fd98::4'}
KATRAN_VIPS = ['10.200.1.%d' % i for i in range(1, 7)] + ['fc00:1::1', 'fc00:1::2']
KATRAN_BACKENDS = ['10.0.0.%d' % i for i in (1, 2, 3)] + ['fc00::%d' % i for i in (1, 2, 3)]
VIP_ADDRS = set(VIPS4) | set(VIPS6) | set(KATRAN_VIPS)
BACKEND_ADDRS = set(VIPS4.values()) | set(VIPS6.values()) | set(KATRAN_BACKENDS)
CLASSES = ('bitflip', 'byte', 'truncate', 'extend', 'length', 'options', 'checksum', 'stacked')


# ---- checksums and builders ---------------------------------------------------------------

def csum(data, acc=0):
    if len(data) & 1:
        data += b'\0'
    acc += sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while acc >> 16:
        acc = (acc & 0xffff) + (acc >> 16)
    return acc


def fin(acc):
    return ~acc & 0xffff


def a(addr):
    return ip_address(addr).packed


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack('!BBH', 0, proto, length)
    return src + dst + struct.pack('!IxxxB', length, proto)


def tcp(sport, dport, seq=1000, ack=0, flags=0x18, opts=b'', data=b'', win=65535):
    doff = (20 + len(opts)) // 4
    return struct.pack('!HHIIBBHHH', sport, dport, seq, ack, doff << 4, flags, win, 0, 0) + opts + data


def udp(sport, dport, data=b''):
    return struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data


def l4_fill(proto, src, dst, seg, first_frag_total=None):
    """Set the L4 checksum of seg (TCP/UDP/ICMP/ICMPv6) for src -> dst."""
    off = {6: 16, 17: 6, 1: 2, 58: 2}[proto]
    seg = bytearray(seg)
    seg[off:off + 2] = b'\0\0'
    ph = b'' if proto == 1 else pseudo(src, dst, proto, first_frag_total or len(seg))
    c = fin(csum(ph + bytes(seg)))
    if proto == 17 and c == 0:
        c = 0xffff
    seg[off:off + 2] = struct.pack('!H', c)
    return bytes(seg)


def ip4(src, dst, proto, payload, opts=b'', frag=0, ident=1, ttl=64):
    ihl = (20 + len(opts)) // 4
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, ihl * 4 + len(payload), ident, frag, ttl,
                    proto, 0, a(src), a(dst)) + opts
    h = h[:10] + struct.pack('!H', fin(csum(h))) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack('!IHBB16s16s', 0x60000000, len(payload), nh, hlim, a(src), a(dst)) + payload


def eth(l3, v6=False, vlan=None):
    et = 0x86dd if v6 else 0x0800
    hdr = b'\x02\0\0\0\0\x01\x02\0\0\0\0\x02'
    if vlan is not None:
        hdr += struct.pack('!HH', 0x8100, vlan)
    return hdr + struct.pack('!H', et) + l3


def pad60(frame, fill=b'\xee'):
    return frame + fill * max(0, 60 - len(frame))


TCP_OPTS = bytes([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])  # MSS SACK TS WS


def frame4(src, dst, proto, l4, opts=b'', vlan=None):
    return eth(ip4(src, dst, proto, l4_fill(proto, a(src), a(dst), l4), opts=opts), vlan=vlan)


def frame6(src, dst, proto, l4, ext=(), final=None, vlan=None):
    """ext: list of (type, body) IPv6 extension headers in order; final: the pseudo-header dst."""
    l4 = l4_fill(proto, a(src), a(final or dst), l4)
    nh, chain = proto, b''
    for t, body in reversed(ext):
        chain = bytes([nh]) + body + chain
        nh = t
    return eth(ip6(src, dst, nh, chain + l4), v6=True, vlan=vlan)


def ext_opts():
    return b'\0' + bytes([1, 4, 0, 0, 0, 0])  # hdrlen 0, PadN


def ext_rh(segleft, final):
    return bytes([2, 2, segleft, 0, 0, 0, 0]) + a(final)  # type 2, one address


def icmp4_error(src, dst, quoted_l3):
    body = struct.pack('!BBHI', 3, 4, 0, 1400) + quoted_l3[:28]
    return eth(ip4(src, dst, 1, l4_fill(1, None, None, body)))


def icmp6_error(src, dst, quoted_l3):
    body = struct.pack('!BBHI', 2, 0, 0, 1280) + quoted_l3[:48]
    return eth(ip6(src, dst, 58, l4_fill(58, a(src), a(dst), body)), v6=True)


# ---- well-formed base frames -----------------------------------------------------------------

def tcp_conv(c, vip, be, port, v6, seq=5000):
    """A client's connection to vip:port and its backend's replies."""
    mk = (lambda s, d, l4, **k: frame6(s, d, 6, l4, **k)) if v6 else \
         (lambda s, d, l4, **k: frame4(s, d, 6, l4, **k))
    sp = 30000 + seq % 1000
    return [mk(c, vip, tcp(sp, port, seq, 0, 0x02, TCP_OPTS)),
            mk(be, c, tcp(port, sp, 90000, seq + 1, 0x12, TCP_OPTS)),
            mk(c, vip, tcp(sp, port, seq + 1, 90001, 0x10)),
            mk(c, vip, tcp(sp, port, seq + 1, 90001, 0x18, data=b'GET / HTTP/1.1\r\n\r\n')),
            mk(be, c, tcp(port, sp, 90001, seq + 19, 0x18, data=b'HTTP/1.1 200 OK\r\n\r\nhello')),
            mk(c, vip, tcp(sp, port, seq + 19, 90026, 0x11))]


def base_frames():
    out = []
    for i in range(1, 5):
        c4, c6 = '198.18.5.%d' % i, '2001:db8:c::%x' % i
        out += tcp_conv(c4, '10.210.0.1', '10.98.0.1', 80, False, 5000 + i)
        out += tcp_conv(c6, 'fd10::1', 'fd98::1', 80, True, 6000 + i)
        out += tcp_conv(c4, '10.210.0.2', '10.98.0.2', 8000 + i, False, 7000 + i)  # port 0 VIP
        out += tcp_conv(c4, '10.210.0.3', '10.98.0.3', 80, False, 8000 + i)         # five-tuple
        out.append(frame4(c4, '10.210.0.1', 17, udp(4000 + i, 53, b'query-%d' % i)))
        out.append(frame4('10.98.0.1', c4, 17, udp(53, 4000 + i, b'answer-%d' % i)))
        out.append(frame6(c6, 'fd10::1', 17, udp(4000 + i, 53, b'query6')))
        out.append(frame6('fd98::1', c6, 17, udp(53, 4000 + i, b'answer6')))
        # options, VLAN, extension headers, Routing headers
        out.append(frame4(c4, '10.210.0.1', 6, tcp(4100 + i, 80, 1, 1, 0x10), opts=b'\x01\x01\x01\x00'))
        out.append(frame4(c4, '10.210.0.1', 6, tcp(4200 + i, 80, 1, 1, 0x18, data=b'v'), vlan=7))
        out.append(frame6(c6, 'fd10::1', 6, tcp(4300 + i, 80, 1, 1, 0x18, data=b'x'), ext=[(60, ext_opts())]))
        out.append(frame6(c6, 'fd10::1', 17, udp(4400 + i, 53, b'hop'), ext=[(0, ext_opts()), (60, ext_opts())]))
        out.append(frame6(c6, 'fd10::1', 6, tcp(4500 + i, 80, 1, 1, 0x18, data=b'rh'),
                          ext=[(43, ext_rh(1, '2001:db8:f::1'))], final='2001:db8:f::1'))
        out.append(frame6(c6, 'fd10::1', 6, tcp(4600 + i, 80, 1, 1, 0x18, data=b'rh0'),
                          ext=[(43, ext_rh(0, 'fd10::1'))]))
        # token VIPs: SYNs for the cookie responder (one with Fast Open data), UDP tokens
        out.append(frame4(c4, '10.210.0.4', 6, tcp(4700 + i, 443, 77, 0, 0x02, TCP_OPTS)))
        out.append(frame4(c4, '10.210.0.4', 6, tcp(4800 + i, 443, 77, 0, 0x02, TCP_OPTS, b'GET /?session_id=a')))
        out.append(frame6(c6, 'fd10::4', 6, tcp(4700 + i, 443, 77, 0, 0x02, TCP_OPTS)))
        out.append(pad60(frame4(c4, '10.210.0.5', 17, udp(4900 + i, 4000, b'v1'))))
        out.append(frame4(c4, '10.210.0.5', 17, udp(4900 + i, 4000, b'v1SESSION%d-rest' % i)))
        # fragments of a UDP datagram to a VIP
        body = l4_fill(17, a(c4), a('10.210.0.1'), udp(5000 + i, 53, b'F' * 40))
        out.append(eth(ip4(c4, '10.210.0.1', 17, body[:24], frag=0x2000, ident=900 + i)))
        out.append(eth(ip4(c4, '10.210.0.1', 17, body[24:], frag=3, ident=900 + i)))
        # ICMP errors about the connections above, ICMP echo, traffic for no VIP
        q = ip4('10.210.0.1', c4, 6, tcp(80, 30000 + (5000 + i) % 1000, 90001, 1, 0x18))
        out.append(icmp4_error('203.0.113.254', '10.210.0.1', q))
        q = ip4(c4, '10.98.0.1', 6, tcp(30000 + (5000 + i) % 1000, 80, 5001, 1, 0x18))
        out.append(icmp4_error('10.98.0.250', c4, q))
        q = ip6('fd10::1', c6, 6, tcp(80, 30000 + (6000 + i) % 1000, 90001, 1, 0x18))
        out.append(icmp6_error('2001:db8:e::1', 'fd10::1', q))
        out.append(frame4(c4, '10.210.0.1', 1, struct.pack('!BBHHH', 8, 0, 0, 1, i) + b'ping'))
        out.append(frame4(c4, '192.0.2.9', 6, tcp(5100 + i, 80, 1, 1, 0x18, data=b'other')))
        out.append(frame6(c6, '2001:db8:9::9', 17, udp(5200 + i, 53, b'other')))
    return out


# ---- mutations ---------------------------------------------------------------------------

def l3_offset(f):
    return 18 if len(f) >= 14 and f[12:14] in (b'\x81\x00', b'\x88\xa8') else 14


def header_pos(rnd, f):
    """A byte position, mostly inside the first 80 bytes where the headers are."""
    if not f:
        return 0
    hi = min(len(f), 80) if rnd.random() < 0.8 else len(f)
    return rnd.randrange(hi)


def m_bitflip(rnd, f):
    if not f:
        return
    for _ in range(rnd.randint(1, 3)):
        p = header_pos(rnd, f)
        f[p] ^= 1 << rnd.randrange(8)


def m_byte(rnd, f):
    if not f:
        return
    for _ in range(rnd.randint(1, 3)):
        f[header_pos(rnd, f)] = rnd.randrange(256)


def m_truncate(rnd, f):
    if not f:
        return
    del f[rnd.randrange(len(f)):]


def m_extend(rnd, f):
    f += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 24)))


def fields(f):
    """(offset, size) of the length fields this frame has, found by a plain walk."""
    l3 = l3_offset(f)
    out = []
    if len(f) < l3 + 20:
        return out
    if f[l3] >> 4 == 4:
        out += [(l3, 0), (l3 + 2, 2)]  # size 0: the IHL nibble
        l4, proto = l3 + (f[l3] & 0xf) * 4, f[l3 + 9]
    elif f[l3] >> 4 == 6 and len(f) >= l3 + 40:
        out.append((l3 + 4, 2))
        l4, proto = l3 + 40, f[l3 + 6]
        while proto in (0, 43, 60) and len(f) >= l4 + 8:
            out.append((l4 + 1, 1))
            proto, l4 = f[l4], l4 + (f[l4 + 1] + 1) * 8
        if proto == 44 and len(f) >= l4 + 8:
            proto, l4 = f[l4], l4 + 8
    else:
        return out
    if proto == 6 and len(f) >= l4 + 13:
        out.append((l4 + 12, 0))
    if proto == 17 and len(f) >= l4 + 6:
        out.append((l4 + 4, 2))
    return out


def m_length(rnd, f):
    fl = fields(f)
    if not fl:
        return m_byte(rnd, f)
    off, size = rnd.choice(fl)
    if size == 0:  # a 4-bit word count in the high (TCP) or low (IHL) nibble
        v = rnd.randrange(16)
        f[off] = (f[off] & 0xf0) | v if off == l3_offset(f) else (v << 4) | (f[off] & 0xf)
    elif size == 1:
        f[off] = rnd.choice([0, 1, 2, rnd.randrange(256)])
    else:
        cur = struct.unpack('!H', f[off:off + 2])[0]
        v = rnd.choice([0, 1, 8, 20, cur - 1, cur + 1, cur - 8, cur + 8, rnd.randrange(65536)])
        f[off:off + 2] = struct.pack('!H', v & 0xffff)
    refix(rnd, f)


def m_options(rnd, f):
    l3 = l3_offset(f)
    if len(f) < l3 + 20 or f[l3] >> 4 != 4:
        return m_byte(rnd, f)
    l4 = l3 + (f[l3] & 0xf) * 4
    if rnd.random() < 0.5 and l4 > l3 + 20:
        lo, hi = l3 + 20, min(len(f), l4)  # IP options
    elif f[l3 + 9] == 6 and len(f) >= l4 + 20 and (f[l4 + 12] >> 4) > 5:
        lo, hi = l4 + 20, min(len(f), l4 + (f[l4 + 12] >> 4) * 4)  # TCP options
    else:
        return m_byte(rnd, f)
    for i in range(lo, hi):
        if rnd.random() < 0.5:
            f[i] = rnd.choice([0, 1, 2, 3, 4, 5, 8, 255, rnd.randrange(256)])
    refix(rnd, f)


def m_checksum(rnd, f):
    l3 = l3_offset(f)
    if len(f) < l3 + 20:
        return m_byte(rnd, f)
    if f[l3] >> 4 == 4 and rnd.random() < 0.5:
        f[l3 + 10] ^= 1 + rnd.randrange(255)
    else:
        p = rnd.randrange(l3 + 20, len(f)) if len(f) > l3 + 20 else l3
        f[p] ^= 1 + rnd.randrange(255)  # anything the L4 checksum covers


def refix(rnd, f):
    """Half the time make the IPv4 header checksum right again: only the lengths lie."""
    l3 = l3_offset(f)
    if rnd.random() < 0.5 or len(f) < l3 + 20 or f[l3] >> 4 != 4:
        return
    ihl = max(5, f[l3] & 0xf) * 4
    if len(f) < l3 + ihl:
        return
    f[l3 + 10:l3 + 12] = b'\0\0'
    f[l3 + 10:l3 + 12] = struct.pack('!H', fin(csum(bytes(f[l3:l3 + ihl]))))


SINGLE = {'bitflip': m_bitflip, 'byte': m_byte, 'truncate': m_truncate, 'extend': m_extend,
          'length': m_length, 'options': m_options, 'checksum': m_checksum}


def mutate(rnd, frame, cls):
    f = bytearray(frame)
    if cls == 'stacked':
        for c in rnd.sample(sorted(SINGLE), rnd.randint(2, 4)):
            SINGLE[c](rnd, f)
    else:
        SINGLE[cls](rnd, f)
    return bytes(f)


# ---- pcap ------------------------------------------------------------------------------------

def pcap_write(path, frames):
    with open(path, 'wb') as w:
        w.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for f in frames:
            w.write(struct.pack('<IIII', 0, 0, len(f), len(f)) + f)


def pcap_read(path):
    data = open(path, 'rb').read()
    off, out = 24, []
    while off + 16 <= len(data):
        n = struct.unpack('<I', data[off + 8:off + 12])[0]
        out.append(data[off + 16:off + 16 + n])
        off += 16 + n
    return out


def gen(seed, count, out, classes_path, corpus=None):
    rnd = random.Random(seed)
    base = base_frames() + (pcap_read(corpus) if corpus else [])
    frames, classes = list(base), ['base'] * len(base)
    for i in range(count):
        cls = CLASSES[i % len(CLASSES)]
        frames.append(mutate(rnd, rnd.choice(base), cls))
        classes.append(cls)
    pcap_write(out, frames)
    with open(classes_path, 'w') as w:
        w.write('\n'.join(classes) + '\n')



# ---- the independent parser ------------------------------------------------------------------

class Parsed:
    """What a receiving stack would make of a frame."""
    def __init__(self):
        self.ip = False          # a whole IP header is there (replay then fills its verifies column)
        self.struct_ok = False   # every length field agrees (IP with the frame, headers with IP)
        self.csum_ok = True      # IPv4 header and L4 checksums (where a fragment allows)
        self.quote_ok = True     # an ICMP error's quoted header
        self.why = []
        self.src = self.dst = None
        self.final = None
        self.proto = None
        self.ip_end = 0          # offset in the frame where the datagram ends
        self.frag = 0
        self.l4 = None           # the L4 bytes inside the datagram
        self.quote = ()          # addresses an ICMP error quotes
        self.ip_opts = False

    @property
    def valid(self):
        return self.ip and self.struct_ok and self.csum_ok and self.quote_ok


def parse(f):
    p = Parsed()
    if len(f) < 14:
        return p
    et, l3 = struct.unpack('!H', f[12:14])[0], 14
    if et in (0x8100, 0x88a8):
        if len(f) < 18:
            return p
        et, l3 = struct.unpack('!H', f[16:18])[0], 18
    if et == 0x0800:
        r = parse4(f, l3, p)
    elif et == 0x86dd:
        r = parse6(f, l3, p)
    else:
        return p
    if r is None:
        return p
    l4, end = r
    if l4 > end:
        p.why.append('headers past the datagram')
        return p
    p.l4 = f[l4:end]
    p.struct_ok = parse_l4(p)
    return p


def parse4(f, l3, p):
    if len(f) - l3 < 20 or f[l3] >> 4 != 4:
        return None
    ihl = (f[l3] & 0xf) * 4
    if ihl < 20 or len(f) - l3 < ihl:
        return None
    p.ip = True
    tot, fo = struct.unpack('!H', f[l3 + 2:l3 + 4])[0], struct.unpack('!H', f[l3 + 6:l3 + 8])[0]
    p.proto, p.src, p.dst = f[l3 + 9], f[l3 + 12:l3 + 16], f[l3 + 16:l3 + 20]
    p.final, p.ip_opts = p.dst, ihl > 20
    p.frag = 2 if fo & 0x1fff else 1 if fo & 0x2000 else 0
    if csum(f[l3:l3 + ihl]) != 0xffff:
        p.csum_ok = False
        p.why.append('ipv4 header checksum')
    if tot < ihl or l3 + tot > len(f):
        p.why.append('ipv4 total length')
        return None
    p.ip_end = l3 + tot
    return l3 + ihl, l3 + tot


def parse6(f, l3, p):
    if len(f) - l3 < 40 or f[l3] >> 4 != 6:
        return None
    p.ip = True
    pl, nh = struct.unpack('!H', f[l3 + 4:l3 + 6])[0], f[l3 + 6]
    p.src, p.dst = f[l3 + 8:l3 + 24], f[l3 + 24:l3 + 40]
    p.final = p.dst
    end = l3 + 40 + pl
    if end > len(f):
        p.why.append('ipv6 payload length')
        return None
    p.ip_end, cur = end, l3 + 40
    while nh in (0, 43, 60, 44):
        if end - cur < 8:
            p.why.append('extension header past the payload')
            return None
        if nh == 44:
            off = struct.unpack('!H', f[cur + 2:cur + 4])[0]
            p.frag = 2 if off & 0xfff8 else 1 if off & 1 else 0
            nh, cur = f[cur], cur + 8
            if p.frag == 2:
                break
            continue
        size = (f[cur + 1] + 1) * 8
        if end - cur < size:
            p.why.append('extension header past the payload')
            return None
        if nh == 43 and f[cur + 3] and f[cur + 1] >= 2:
            # the final destination: segment 0 of a segment routing header, else the last address
            n = f[cur + 1] // 2
            at = cur + 8 + (0 if f[cur + 2] == 4 else 16 * (n - 1))
            p.final = f[at:at + 16]
        nh, cur = f[cur], cur + size
    p.proto = nh
    return cur, end


def parse_l4(p):
    seg, v4 = p.l4, len(p.src) == 4
    if p.frag == 2:
        return True
    if p.proto == 6:
        if len(seg) < 20 or seg[12] >> 4 < 5 or (seg[12] >> 4) * 4 > len(seg):
            p.why.append('tcp data offset')
            return False
    elif p.proto == 17:
        ulen = struct.unpack('!H', seg[4:6])[0] if len(seg) >= 8 else 0
        if len(seg) < 8 or (ulen <= len(seg) if p.frag == 1 else ulen != len(seg)):
            p.why.append('udp length')
            return False
    elif (p.proto == 1 and v4) or (p.proto == 58 and not v4):
        if len(seg) < 8:
            p.why.append('icmp length')
            return False
        if not p.frag:
            quote(p)
    else:
        return True
    if not p.frag:
        if p.proto == 17 and v4 and seg[6:8] == b'\0\0':
            return True
        ph = b'' if p.proto == 1 else pseudo(p.src, p.final, p.proto, len(seg))
        if csum(ph + seg) != 0xffff:
            p.csum_ok = False
            p.why.append('l4 checksum')
    return True


def quote(p):
    t, q = p.l4[0], p.l4[8:]
    if len(p.src) == 4:
        if t not in (3, 4, 5, 11, 12):
            return
        ihl = (q[0] & 0xf) * 4 if q else 0
        if len(q) < 20 or q[0] >> 4 != 4 or ihl < 20 or ihl > len(q) or csum(q[:ihl]) != 0xffff:
            p.quote_ok = False
            p.why.append('icmp quote')
            return
        p.quote = (q[12:16], q[16:20])
    else:
        if not 1 <= t <= 4:
            return
        if len(q) < 40 or q[0] >> 4 != 6:
            p.quote_ok = False
            p.why.append('icmp quote')
            return
        p.quote = (q[8:24], q[24:40])


# ---- the checks ------------------------------------------------------------------------------

PACKED_VIPS = {a(x) for x in VIP_ADDRS}
PACKED_BACKENDS = {a(x) for x in BACKEND_ADDRS}


def for_limpet(p):
    ours = PACKED_VIPS | PACKED_BACKENDS
    return p.dst in PACKED_VIPS or p.src in PACKED_BACKENDS or any(x in ours for x in p.quote)


def is_valid_syn(p):
    return (p.valid and p.proto == 6 and not p.frag and len(p.l4) >= 20 and
            p.l4[13] & 0x17 == 0x02)


def judge(fin_, fout, row):
    """The rules a frame breaks (names of the checks)."""
    broken = []
    if row['verdict'] == 'error':
        if len(fin_) >= 14 and len(fin_) < 65000 or fout != fin_:
            broken.append('abort')
        return broken
    if row['reason'] == '?':
        broken.append('abort')
    pin, pout = parse(fin_), parse(fout)
    v = row['verifies']
    if (v == '-') != (not pout.ip) or (pout.ip and (v == 'ok') != pout.valid):
        broken.append('verifies')
    if fout == fin_:
        return broken
    if not pin.struct_ok:
        broken.append('inconsistent')
    if not pin.ip or not for_limpet(pin):
        broken.append('not_vip')
    if pin.ip and len(fout) == len(fin_) and fout[pin.ip_end:] != fin_[pin.ip_end:]:
        broken.append('past_datagram')
    if not pout.struct_ok or (pin.valid and not pout.valid):
        broken.append('malformed')
    if row['reason'] == 'synack' and not (is_valid_syn(pin) and not pin.ip_opts):
        broken.append('synack')
    return broken


CHECKS = [('abort', 'replay ran every frame: one row and one output frame each, no abort'),
          ('verifies', "limpet replay's verifies column agrees with this parser on every frame"),
          ('inconsistent', 'no structurally inconsistent input was rewritten'),
          ('past_datagram', 'nothing was written past an IP datagram'),
          ('malformed', 'no output malformed where its input was well formed'),
          ('synack', 'no SYN-ACK for an invalid SYN'),
          ('not_vip', 'no frame for no VIP was changed')]


def check(in_path, out_path, replay_path, classes_path):
    fin_, fout = pcap_read(in_path), pcap_read(out_path)
    rows = json.load(open(replay_path))['frames']
    classes = open(classes_path).read().split()
    n, failed = 0, 0
    bad = {k: [] for k, _ in CHECKS}
    per = {}
    if not (len(rows) == len(fin_) == len(fout) == len(classes)):
        bad['abort'].append('%d frames in, %d rows, %d out, %d classes' %
                            (len(fin_), len(rows), len(fout), len(classes)))
    for i, (x, y, row, cls) in enumerate(zip(fin_, fout, rows, classes)):
        st = per.setdefault(cls, {'frames': 0, 'changed': 0})
        st['frames'] += 1
        st['changed'] += x != y
        why = 'error' if row['verdict'] == 'error' else row['reason']
        st[why] = st.get(why, 0) + 1
        for k in judge(x, y, row):
            bad[k].append('frame %d (%s): %s -> %s %s | in: %s | out: %s' % (
                i + 1, cls, row['in'], row['out'], row['reason'], ', '.join(parse(x).why) or 'valid',
                ', '.join(parse(y).why) or 'valid'))
    for k, name in CHECKS:
        n += 1
        failed += bool(bad[k])
        print('%s %d - %s' % ('not ok' if bad[k] else 'ok', n, name))
        for line in bad[k][:8]:
            print('#', line)
        if len(bad[k]) > 8:
            print('# … %d in all' % len(bad[k]))
    # the test has teeth only if every class reached the rewriting paths
    thin = [c for c in CLASSES + ('base',) if per.get(c, {}).get('changed', 0) == 0]
    n += 1
    failed += bool(thin)
    print('%s %d - every mutation class had frames rewritten (checked above)%s' %
          ('not ok' if thin else 'ok', n, ': not ' + ' '.join(thin) if thin else ''))
    for cls in CLASSES + ('base',):
        st = per.get(cls, {})
        top = sorted(((v, k) for k, v in st.items() if k not in ('frames', 'changed')),
                     reverse=True)[:6]
        print('# %-9s %7d frames, %6d rewritten; %s' % (
            cls, st.get('frames', 0), st.get('changed', 0),
            ' '.join('%s=%d' % (k, v) for v, k in top)))
    print('1..%d' % n)
    return 1 if failed else 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['gen'] and len(sys.argv) >= 6:
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5],
            sys.argv[6] if len(sys.argv) > 6 else None)
        sys.exit(0)
    if sys.argv[1:2] == ['check'] and len(sys.argv) == 6:
        sys.exit(check(*sys.argv[2:6]))
    sys.stderr.write(__doc__)
    sys.exit(2)
