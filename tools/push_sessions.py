#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Idle sessions where the server speaks first, for limpet's testbeds (addresses inside the
test's own namespaces only; bounded in time).

  push_sessions.py server NAME PORT TRIGGER_FILE
      Accept connections; answer each request ("GET ...\\r\\n\\r\\n") with "hello NAME"; once
      TRIGGER_FILE exists, send "push NAME" on every open connection, and answer each "ack"
      with "ok NAME". Exits after 300 s.
  push_sessions.py client VIP PORT SRC[,SRC...] N TIMEOUT READY_FILE
      Open N sessions (round robin over the SRC addresses, token "sid=sess-I"), read each
      "hello", write READY_FILE, then wait up to TIMEOUT s for each push and answer it. Prints
      one line per session: "I SRC hello-backend push-backend ok-backend" ("-" where missing).
"""
import os
import selectors
import socket
import sys
import time


def server(name, port, trigger):
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port))
    ls.listen(1024)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ)
    bufs, pushed, end = {}, False, time.time() + 300
    while time.time() < end:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            if s is ls:
                c, _ = ls.accept()
                c.setblocking(False)
                bufs[c] = b""
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                bufs.pop(s, None)
                s.close()
                continue
            bufs[s] += data
            if b"\r\n\r\n" in bufs[s]:
                bufs[s] = bufs[s].split(b"\r\n\r\n", 1)[1]
                s.sendall(b"hello %s\n" % name.encode())
            if b"ack\n" in bufs[s]:
                bufs[s] = b""
                s.sendall(b"ok %s\n" % name.encode())
        if not pushed and os.path.exists(trigger):
            pushed = True
            for c in list(bufs):
                try:
                    c.sendall(b"push %s\n" % name.encode())
                except OSError:
                    pass


def readline(s, deadline):
    buf = b""
    while not buf.endswith(b"\n"):
        s.settimeout(max(0.01, deadline - time.time()))
        try:
            d = s.recv(1)
        except OSError:
            return None
        if not d:
            return None
        buf += d
    return buf.decode().split()[-1]


def client(vip, port, srcs, n, timeout, ready):
    fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
    sess, failed = [], 0
    for i in range(n):
        src = srcs[i % len(srcs)]
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(5)
        hello = None
        try:
            if failed < 3:  # broken traffic fails the test in seconds, not n timeouts
                s.connect((vip, port))
                s.sendall(b"GET /?sid=sess-%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                hello = readline(s, time.time() + 5)
        except OSError:
            pass
        failed = 0 if hello else failed + 1
        sess.append([i, src, s, hello, None, None])
    open(ready, "w").close()
    deadline = time.time() + timeout
    failed = 0
    for e in sess:
        if e[3] is None or failed >= 3:
            continue
        e[4] = readline(e[2], deadline)
        failed = 0 if e[4] else failed + 1
        if e[4] is None:
            continue
        try:
            e[2].sendall(b"ack\n")
            e[5] = readline(e[2], time.time() + 5)
        except OSError:
            pass
    for i, src, s, h, p, o in sess:
        print(i, src, h or "-", p or "-", o or "-")
        s.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "server":
        server(a[1], int(a[2]), a[3])
    elif len(a) == 7 and a[0] == "client":
        client(a[1], int(a[2]), a[3].split(","), int(a[4]), float(a[5]), a[6])
    else:
        sys.exit(__doc__)
