"""HL7 v2 ADT throughput: 1,000 A08 over one MLLP connection to a real ``clinphoto serve``.

The sender waits for each ACK before sending the next message, as an interface engine in
original acknowledgment mode does; each A08 changes the patient's name, so every message is a
real index update (one write transaction, audit entries). Every ACK is checked to be AA.
Prints messages per second.

    .venv/bin/python -m bench.adt [--messages 1000] [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tests.support.server import ServerProcess, free_port


def _a08(n: int) -> bytes:
    return ("MSH|^~\\&|HIS|HOSP|CLINPHOTO|HOSP|20261127100000||ADT^A08^ADT_A01|B%06d|P|2.5||||||UNICODE UTF-8\r"
            "EVN|A08|20261127100000\r"
            "PID|1||IPP-%04d^^^HOSP^PI||Dupont-%d^Zoé||19800102|F" % (n, n % 50, n)).encode()


async def _send(port: int, count: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = [b"\x0b" + _a08(n) + b"\x1c\x0d" for n in range(count)]
    start = time.perf_counter()
    for frame in frames:
        writer.write(frame)
        await writer.drain()
        ack = await reader.readuntil(b"\x1c\x0d")
        if b"MSA|AA|" not in ack:
            raise SystemExit(f"not accepted: {ack!r}")
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {"CLINPHOTO_HL7_MLLP_PORT": str(port), "CLINPHOTO_PWA_DIR": str(Path(folder) / "no-pwa")}
        if args.database_url:
            env["CLINPHOTO_DATABASE_URL"] = args.database_url
        server = ServerProcess(Path(folder) / "data", **env)
        server.start()
        try:
            asyncio.run(_send(port, 20))  # warm up: first connections, first index rows
            elapsed = asyncio.run(_send(port, args.messages))
        finally:
            server.stop()
    print(f"{args.messages} A08 over one MLLP connection: {elapsed:.2f} s, {args.messages / elapsed:.0f} messages/s")


if __name__ == "__main__":
    main()
