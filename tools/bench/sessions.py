#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Session figures for make bench: which backend answers each session (Python standard library
and Debian's python3-websockets only). Session i is client address tb_client4(FIRST + i) and
session id "s<i>"; every connection is a new one (Connection: close).

  sessions.py probe HOST N CONNS FIRST   N sessions x CONNS connections; prints one JSON list
                                         per session: the backend name of each connection
  sessions.py ws HOST PORT N SECONDS     N WebSocket connections (session i from address i),
                                         a message each every 0.5 s for SECONDS; prints JSON
                                         {"opened", "kept"}: kept = answered to the end, always
                                         by one backend
"""
import asyncio
import http.client
import json
import sys
from concurrent.futures import ThreadPoolExecutor


def client4(i):  # tools/testbed.sh's tb_client4
    return "198.18.%d.%d" % (i // 250, i % 250 + 1)


def get(host, src, sid):
    try:
        c = http.client.HTTPConnection(host, 80, timeout=5, source_address=(src, 0))
        c.request("GET", "/?session_id=" + sid, headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        c.close()
        return body if r.status == 200 else "err"
    except OSError:
        return "err"


def probe(host, n, conns, first):
    def session(i):
        return [get(host, client4(first + i), "s%d" % i) for _ in range(conns)]

    with ThreadPoolExecutor(max_workers=16) as ex:
        print(json.dumps(list(ex.map(session, range(n)))))


async def ws(host, port, n, seconds):
    import websockets

    async def one(i):
        seen, opened = set(), False
        try:
            url = "ws://%s:%d/?session_id=s%d" % (host, port, i)
            async with websockets.connect(url, local_addr=(client4(i), 0), open_timeout=5) as c:
                opened = True
                loop = asyncio.get_running_loop()
                end = loop.time() + seconds
                k = 0
                while True:
                    await c.send("m%d" % k)
                    seen.add((await asyncio.wait_for(c.recv(), 5)).split(":", 1)[0])
                    k += 1
                    if loop.time() >= end:
                        break
                    await asyncio.sleep(0.5)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            return (opened, False)
        return (True, len(seen) == 1)

    res = await asyncio.gather(*(one(i) for i in range(n)))
    print(json.dumps({"opened": sum(o for o, _ in res), "kept": sum(k for _, k in res)}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "probe":
        probe(a[1], int(a[2]), int(a[3]), int(a[4]))
    elif len(a) == 5 and a[0] == "ws":
        asyncio.run(ws(a[1], int(a[2]), int(a[3]), float(a[4])))
    else:
        sys.exit(__doc__)
