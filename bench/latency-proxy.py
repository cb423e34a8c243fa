#!/usr/bin/env python3
"""A TCP proxy that delays what clients send by a fixed time, for the benchmarks.

    python3 bench/latency-proxy.py LISTEN_PORT UPSTREAM_HOST:PORT [DELAY_MS]

Every byte a client sends reaches the upstream DELAY_MS (default 50) after it arrived;
the upstream's replies pass straight through. With HTTP/1.1 (one request in flight per
connection, no pipelining) that adds DELAY_MS to every request, keep-alive or not, which
is how a remote repository looks to a client on a LAN: a request body is delayed once as
a whole, not per chunk. Connecting is not delayed. Prints "ready" once listening, and
stops on SIGTERM.
"""

import asyncio
import signal
import sys
import time


async def pump_delayed(reader, writer, delay):
    """Forward reader to writer, each chunk `delay` seconds after it arrived, in order."""
    queue = asyncio.Queue()

    async def read():
        while True:
            data = await reader.read(65536)
            queue.put_nowait((time.monotonic(), data))
            if not data:
                return

    async def write():
        while True:
            arrived, data = await queue.get()
            wait = arrived + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(read(), write())


async def pump(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            if writer.can_write_eof():
                writer.write_eof()
            return
        writer.write(data)
        await writer.drain()


async def handle(client_reader, client_writer, upstream, delay):
    host, port = upstream
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            pump_delayed(client_reader, upstream_writer, delay),
            pump(upstream_reader, client_writer),
        )
    except (ConnectionError, OSError):
        pass
    finally:
        for writer in (upstream_writer, client_writer):
            writer.close()


async def main():
    listen_port = int(sys.argv[1])
    host, _, port = sys.argv[2].rpartition(":")
    delay = (float(sys.argv[3]) if len(sys.argv) > 3 else 50.0) / 1000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, (host, int(port)), delay),
        "127.0.0.1",
        listen_port,
        backlog=1024,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
