"""`export.py serve` (`make serve`): a bundle folder over HTTP on loopback only.

The projector fetches its config and data with XMLHttpRequest, which browsers refuse
on file:// pages, so a bundle needs a server even on one's own machine.
"""

from __future__ import annotations

import errno
import functools
import gzip
import io
import ipaddress
import os
import socket
import sys
import threading
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, cast

from projector_bundle import ExportError
from projector_bundle.files import NotAFileError, open_regular
from projector_bundle.projector.formats import DEFAULT_HOST

# Sent gzipped to a browser that accepts it, as static hosts do with text: the page, the
# projector script, configs, bookmarks and metadata. The .bytes vectors barely compress.
GZIP_SUFFIXES = (".html", ".js", ".json", ".tsv", ".txt")
# A file up to this size is compressed whole, so its Content-Length can be sent; a larger one
# is compressed as it is sent, a piece at a time: memory per request stays near this bound.
GZIP_WHOLE_BYTES = 1_000_000
READ_BYTES = 256 * 1024
# Requests answered at once; more connections wait in the listen queue.
WORKERS = 16
LISTEN_QUEUE = 128
# A connection that sends or reads nothing for this long is closed.
IDLE_SECONDS = 30


class QuietHandler(SimpleHTTPRequestHandler):
    """Files from the folder, without a log line per request, readable from any origin, text gzipped.

    GitHub Pages sends `Access-Control-Allow-Origin: *` too; with it, projector.tensorflow.org's
    `?config=` can load a bundle served here. Gzip makes the bytes a page fetches here what
    a host that compresses text would send.
    """

    timeout = IDLE_SECONDS

    def send_head(self) -> BinaryIO | None:
        """The file or listing for the request, refusing paths the folder does not hold
        and anything but a regular file (a FIFO would hang the request, a device never end)."""
        path = self.translate_path(self.path)
        if "\0" in path:  # `%00` in the URL: open() would raise, dropping the connection
            self.send_error(HTTPStatus.BAD_REQUEST, "NUL byte in the path")
            return None
        if not inside(path, self.directory):
            return self.refuse_link()
        if os.path.isdir(path):
            if not self.path.split("?", 1)[0].split("#", 1)[0].endswith("/"):
                return super().send_head()  # the redirect to the folder's URL with a slash
            names = (os.path.join(path, name) for name in ("index.html", "index.htm"))
            index = next((name for name in names if os.path.lexists(name)), None)
            if index is None:
                return super().send_head()  # the listing
            if not inside(index, self.directory):
                return self.refuse_link()
            path = index
        try:
            file = open_regular(path)
        except NotAFileError:
            self.send_error(HTTPStatus.FORBIDDEN, "not a regular file")
            return None
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            if self.accepts_gzip() and path.endswith(GZIP_SUFFIXES):
                return self.send_gzipped(path, file)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Length", str(os.fstat(file.fileno()).st_size))
            self.end_headers()
            return file
        except BaseException:
            file.close()
            raise

    def refuse_link(self) -> BinaryIO | None:
        """No answer but 403 for a link inside the bundle that points out of it: neither served nor listed."""
        self.send_error(HTTPStatus.FORBIDDEN, "link out of the served folder")
        return None

    def accepts_gzip(self) -> bool:
        """Whether Accept-Encoding lists gzip with a weight above zero."""
        for part in self.headers.get("Accept-Encoding", "").split(","):
            coding, *params = (p.strip() for p in part.split(";"))
            if coding == "gzip":
                return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        return False

    def send_gzipped(self, path: str, file: BinaryIO) -> BinaryIO:
        """The headers of `file` gzipped, and the stream its gzipped bytes come from: whole for
        a small file (with its Content-Length), else compressed as it is sent (the response
        then ends when the connection closes, as HTTP/1.0 allows)."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        if os.fstat(file.fileno()).st_size <= GZIP_WHOLE_BYTES:
            with file:
                body = gzip.compress(file.read(GZIP_WHOLE_BYTES + 1), compresslevel=6, mtime=0)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        return cast(BinaryIO, GzipStream(file))

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class GzipStream(io.RawIOBase):
    """A file's bytes gzipped (mtime 0, as `gzip.compress` above), read a piece at a time."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self.done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self.done:
            piece = self.file.read(READ_BYTES)
            if not piece:
                self.done = True
                return self.compressor.flush()
            if out := self.compressor.compress(piece):
                return out
        return b""

    def close(self) -> None:
        self.file.close()
        super().close()


class BundleServer(ThreadingHTTPServer):
    """At most `WORKERS` requests at once, each on its own thread: a thread per connection,
    unbounded, ended in "can't start new thread" under a few hundred sockets."""

    request_queue_size = LISTEN_QUEUE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.slots = threading.BoundedSemaphore(WORKERS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.slots.acquire()  # the accept loop waits here while every worker is busy
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a reload, a closed tab) or fell idle is no news; anything
        else is one line on stderr, never a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        print(f"serve: a request from {client_address[0]} failed: {exc!r:.200}", file=sys.stderr, flush=True)


def inside(path: str, folder: str) -> bool:
    """Whether `path`, with every link followed, lies in `folder`."""
    root = os.path.realpath(folder)
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


class _IPv6Server(BundleServer):
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


def make_server(folder: Path, host: str = DEFAULT_HOST, port: int = 0) -> BundleServer:
    """A server for `folder` bound to a loopback `host`; port 0 picks a free port."""
    host = check_loopback(host)
    server_class = _IPv6Server if ":" in host else BundleServer
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
    host, port = str(server.server_address[0]), server.server_address[1]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@dataclass(frozen=True)
class BackgroundServer:
    """A bundle server on a daemon thread of this process (a notebook's kernel): it stops with the process."""

    folder: Path
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return server_url(self.server)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        if _background.get(self.folder) is self:
            del _background[self.folder]


# One server per bundle folder, so showing a bundle again (after rewriting it) reuses its port.
_background: dict[Path, BackgroundServer] = {}


def serve_in_background(folder: Path, host: str = DEFAULT_HOST, port: int = 0) -> BackgroundServer:
    """Serve `folder` on loopback from a daemon thread: the server already serving it if there
    is one (on `port`, where one is asked for), else a new one; port 0 picks a free port."""
    folder = folder.resolve()  # the handler opens files by this path: a later chdir must not move it
    running = _background.get(folder)
    if running is not None and running.thread.is_alive() and port in (0, running.port):
        return running
    if running is not None:
        running.stop()
    server = make_server(folder, host, port)
    thread = threading.Thread(target=server.serve_forever, name=f"serve {folder.name}", daemon=True)
    thread.start()
    _background[folder] = BackgroundServer(folder, server, thread)
    return _background[folder]


if __name__ == "__main__":  # `python -m projector_bundle.output.serve` is `export.py serve`
    import sys

    from projector_bundle.cli import main

    raise SystemExit(main(["serve", *sys.argv[1:]]))
