#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""A UDP service for limpet's testbeds: the server answers every datagram with its name; the client
sends datagrams from chosen source addresses and prints which server answered.

  udp_name.py server NAME PORT
  udp_name.py client DST PORT < lines of "SRC PAYLOAD"   → prints "SRC PAYLOAD NAME" per line
"""
import socket
import sys


def server(name, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(name.encode(), peer)


def client(dst, port):
    for line in sys.stdin:
        src, payload = line.split()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.settimeout(2)
        answer = "-"
        for _ in range(3):  # datagrams may be lost while neighbours resolve
            s.sendto(payload.encode(), (dst, port))
            try:
                answer = s.recvfrom(2048)[0].decode()
                break
            except socket.timeout:
                continue
        s.close()
        print(src, payload, answer, flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
