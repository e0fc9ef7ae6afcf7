#!/usr/bin/env python3
"""The memory of `export.py serve` under many gzip downloads of one large text file.

    make bench-serve  (.venv/bin/python bench/serve_load.py [--clients 30] [--mb 30] [--package DIR])

It writes a folder with an index.html and a `--mb` MB metadata.tsv of random-looking
text (numbers and words, which compress about as real metadata does) into .bench/serve/,
starts `export.py serve` on it in a process of its own, has `--clients` threads download
the file at once with `Accept-Encoding: gzip`, and reports the server's peak resident
memory (VmHWM in /proc/PID/status, so Linux only), the bytes each client received, and
that each one decompressed to the file. `--package DIR` runs the server from another
checkout's projector_bundle (say, an older version, to compare).
A benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import random
import re
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_site(folder: Path, megabytes: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text("<!doctype html><title>serve load</title>\n")
    file = folder / "metadata.tsv"
    if not file.exists() or file.stat().st_size < megabytes * 1_000_000:
        rng = random.Random(0)
        words = ["river", "bank", "account", "the", "of", "##ing", "café", "1990", "hello", "world"]
        with open(file, "w", encoding="utf-8") as out:
            out.write("Token\tId\tLength\n")
            row = 0
            while out.tell() < megabytes * 1_000_000:
                out.write(f"{rng.choice(words)}{rng.randrange(10_000)}\t{row}\t{rng.randrange(1, 20)}\n")
                row += 1
    return file


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match[1]) / 1024 if match else float("nan")


def current_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match[1]) / 1024 if match else float("nan")


def download(port: int, path: str, results: list[tuple[int, bool]], expected: bytes) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        received = 0
        digest = bytearray()
        while piece := response.read(1 << 16):
            received += len(piece)
            digest += decompressor.decompress(piece)
        digest += decompressor.flush()
        results.append((received, bytes(digest) == expected))
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--mb", type=int, default=30)
    parser.add_argument("--package", type=Path, help="a checkout whose projector_bundle serves instead of this one")
    args = parser.parse_args()

    site = ROOT / ".bench" / "serve"
    file = write_site(site, args.mb)
    expected = file.read_bytes()
    source = args.package or ROOT
    command = [sys.executable, str(source / "export.py"), "serve", "--directory", str(site), "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(source)}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r":(\d+)/ \(Ctrl-C stops\)", line)
        if not match:
            raise SystemExit(f"the server did not start: {line!r}")
        port = int(match[1])
        idle = current_rss_mb(server.pid)
        results: list[tuple[int, bool]] = []
        threads = [
            threading.Thread(target=download, args=(port, "/metadata.tsv", results, expected))
            for _ in range(args.clients)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
        peak = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    ok = sum(same for _, same in results)
    sizes = sorted({size for size, _ in results})
    print(f"server: {source / 'projector_bundle'}")
    print(f"file: {file.stat().st_size / 1e6:.1f} MB, gzipped {len(gzip.compress(expected, 6)) / 1e6:.1f} MB")
    print(
        f"{args.clients} concurrent gzip downloads in {seconds:.1f} s: {ok} of {len(results)} decompressed to the file"
    )
    print(f"bytes received per client: {', '.join(f'{s:,}' for s in sizes)}")
    print(f"server RSS: {idle:.0f} MB idle, {peak:.0f} MB peak (VmHWM)")
    if err.strip():
        print(f"server stderr ({len(err.splitlines())} lines):\n{err[-2000:]}")


if __name__ == "__main__":
    main()
