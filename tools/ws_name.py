#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""WebSocket peers for limpet's testbeds (Debian's python3-websockets).

  ws_name.py server NAME PORT          every message is answered with "NAME:message"
  ws_name.py client URL SRC SECONDS    sends a message every 0.5 s for SECONDS from address SRC;
                                       prints the backend that answered each one
"""
import asyncio
import sys
import time

import websockets


async def serve(name, port):
    async def handler(ws, path=None):
        async for msg in ws:
            await ws.send("%s:%s" % (name, msg))

    async with websockets.serve(handler, "0.0.0.0", port):
        await asyncio.Future()


async def client(url, src, seconds):
    async with websockets.connect(url, local_addr=(src, 0), open_timeout=5,
                                  close_timeout=1) as ws:
        end = time.monotonic() + seconds
        n = 0
        while True:
            await ws.send("m%d" % n)
            reply = await asyncio.wait_for(ws.recv(), 5)
            print(reply.split(":", 1)[0], flush=True)
            n += 1
            if time.monotonic() >= end:
                break
            await asyncio.sleep(0.5)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
    elif len(sys.argv) == 5 and sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    else:
        sys.exit(__doc__)
