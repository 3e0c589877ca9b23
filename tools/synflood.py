#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""SYNs from random source addresses, for limpet's testbeds only (addresses inside the test's own
namespaces). Bounded in count and time.

  synflood.py DST PORT COUNT [MAX_SECONDS]
"""
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    daddr = socket.inet_aton(dst)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    rnd = random.Random(1)
    start, sent = time.monotonic(), 0
    while sent < count and time.monotonic() - start < limit:
        saddr = struct.pack("!I", (100 << 24) | rnd.getrandbits(22))  # 100.0.0.0/10
        sport, seq = rnd.randint(1024, 65535), rnd.getrandbits(32)
        opts = struct.pack("!BBH", 2, 4, 1460)
        tcp = struct.pack("!HHIIBBHHH", sport, port, seq, 0, (6 << 4), 0x02, 64240, 0, 0) + opts
        ph = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, socket.IPPROTO_TCP,
                         0, saddr, daddr)
        s.sendto(ip + tcp, (dst, 0))
        sent += 1
    print(sent)


if __name__ == "__main__":
    main()
