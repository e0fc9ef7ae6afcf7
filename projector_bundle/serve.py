"""`make serve`: a bundle folder over HTTP on loopback only, announcing the URL to open.

The projector fetches its config and data with XMLHttpRequest, which browsers refuse
on file:// pages, so a bundle needs a server even on one's own machine.

    python -m projector_bundle.serve [--directory site] [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import ipaddress
import socket
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import ExportError
from .formats import PAGE_HTML

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class QuietHandler(SimpleHTTPRequestHandler):
    """Files from the folder, without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def check_loopback(host: str) -> str:
    """`host` if it names this machine's loopback interface: a bundle server is not for the network."""
    if host == "localhost":
        return DEFAULT_HOST
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ExportError(f"--host {host}: serves on loopback only (127.0.0.1, ::1 or localhost)")


def make_server(folder: Path, host: str = DEFAULT_HOST, port: int = 0) -> ThreadingHTTPServer:
    """A server for `folder` bound to a loopback `host`; port 0 picks a free port."""
    host = check_loopback(host)
    server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
    handler = functools.partial(QuietHandler, directory=str(folder))
    try:
        return server_class((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ExportError(
                f"--port {port}: already in use on {host}; choose another (make serve PORT=...)"
            ) from None
        raise ExportError(f"--host {host} --port {port}: cannot listen: {exc.strerror or exc}") from None


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", type=Path, default=Path("site"), help="the bundle folder (default: site)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="a loopback address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (default: 8000)")
    args = parser.parse_args(argv)
    try:
        if not (args.directory / PAGE_HTML).is_file():
            raise ExportError(f"--directory {args.directory}: no bundle there (no {PAGE_HTML}); run make bundle first")
        server = make_server(args.directory, args.host, args.port)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with server:
        # stdout, flushed: the one line a person (or a script) needs from this command.
        print(f"serving {args.directory}/ at {server_url(server)} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops it: no traceback
            server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
