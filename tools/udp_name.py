#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""A UDP service for limpet's testbeds: the server answers every datagram with its name, from the
address the datagram was sent to (a VIP on its lo, behind a direct-server-return balancer); the
client sends datagrams from chosen source addresses and prints which server answered from the
address it sent to ("-": none did).

  udp_name.py server NAME PORT
  udp_name.py client DST PORT < lines of "SRC PAYLOAD [N]"   → prints "SRC PAYLOAD NAME" per line
      (N datagrams a line, 1 if not given, from one socket: the answer to the last)
"""
import socket
import struct
import sys

IP_PKTINFO = 8  # <linux/in.h>; Python's socket module does not name it


def server(name, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.bind(("0.0.0.0", port))
    while True:
        _, anc, _, peer = s.recvmsg(2048, socket.CMSG_SPACE(12))
        # struct in_pktinfo: ifindex, local address, the header's destination address
        dst = [d[8:12] for lvl, typ, d in anc if lvl == socket.IPPROTO_IP and typ == IP_PKTINFO]
        info = struct.pack("=I4s4s", 0, dst[0], bytes(4)) if dst else None
        s.sendmsg([name.encode()], [(socket.IPPROTO_IP, IP_PKTINFO, info)] if info else [], 0, peer)


def ask(s, payload, dst, port):
    for _ in range(3):  # datagrams may be lost while neighbours resolve
        s.sendto(payload.encode(), (dst, port))
        try:
            data, frm = s.recvfrom(2048)
        except socket.timeout:
            continue
        if frm == (dst, port):
            return data.decode()
    return "-"


def client(dst, port):
    for line in sys.stdin:
        src, payload, *n = line.split()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.settimeout(2)
        for _ in range(int(n[0]) if n else 1):
            answer = ask(s, payload, dst, port)
        s.close()
        print(src, payload, answer, flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
