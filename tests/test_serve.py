"""`make serve`'s server: loopback only, the URL on stdout, one-line errors."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from support import ROOT

from projector_bundle import cli
from projector_bundle.output import serve
from projector_bundle.output.serve import make_server


def main(args: list[str]) -> int:
    return cli.main(["serve", *args])


@pytest.mark.parametrize("serve", [["export.py", "serve"], ["-m", "projector_bundle.output.serve"]])
def test_serves_the_bundle_and_prints_its_url(serve: list[str], tiny_bundle: Path) -> None:
    command = [sys.executable, *serve, "--directory", str(tiny_bundle), "--port", "0"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        match = re.fullmatch(
            rf"serving {re.escape(str(tiny_bundle))}/ at (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)\n", line
        )
        assert match, line
        with urllib.request.urlopen(match[1], timeout=10) as response:
            assert response.read() == (tiny_bundle / "index.html").read_bytes()
            # As GitHub Pages does: projector.tensorflow.org's ?config= may read the bundle.
            assert response.headers["Access-Control-Allow-Origin"] == "*"
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert server.returncode == 0
    assert err == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_refuses_other_than_loopback(host: str, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--directory", str(tiny_bundle), "--host", host, "--port", "0"]) == 1
    assert capsys.readouterr().err == f"error: --host {host}: serves on loopback only (127.0.0.1, ::1 or localhost)\n"


def test_refuses_a_folder_without_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--directory", str(tmp_path), "--port", "0"]) == 1
    assert (
        capsys.readouterr().err
        == f"error: --directory {tmp_path}: no bundle there (no index.html); run make bundle first\n"
    )


def test_port_in_use_is_one_line(tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--directory", str(tiny_bundle), "--port", str(port)]) == 1
    assert (
        capsys.readouterr().err
        == f"error: --port {port}: already in use on 127.0.0.1; choose another (make serve PORT=...)\n"
    )


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(port: str, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--directory", str(tiny_bundle), "--port", port])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"export.py serve: error: argument --port: expected a port from 0 to 65535 (0 picks a free one), got {port!r}"
    )


# --- nothing outside the folder, and no traceback for a bad path ---


@pytest.fixture
def linked_bundle(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A bundle with links out of it (a folder, a file, /etc/passwd) and one link inside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    (site / "secrets").symlink_to(outside)
    (site / "secret.txt").symlink_to(outside / "secret.txt")
    (site / "passwd").symlink_to("/etc/passwd")
    (site / "page.html").symlink_to("index.html")
    return site


def serving(folder: Path) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "export.py", "serve", "--directory", str(folder), "--port", "0"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    match = re.fullmatch(r"serving .* at http://127\.0\.0\.1:(\d+)/ \(Ctrl-C stops\)\n", line)
    assert match, line
    return server, int(match[1])


def status_of(port: int, path: str) -> tuple[int, bytes]:
    """The status and body for `path`, sent as written (no client-side quoting)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_links_out_of_the_folder_are_refused_and_a_nul_byte_is_a_bad_request(linked_bundle: Path) -> None:
    server, port = serving(linked_bundle)
    try:
        for path in ("/secrets/", "/secrets", "/secrets/secret.txt", "/secret.txt", "/passwd"):
            status, body = status_of(port, path)
            assert status == 403, path
            assert b"secret.txt" not in body and b"root:" not in body
        assert status_of(port, "/%2e%2e/outside/secret.txt")[0] == 404  # `..` never climbs out
        assert status_of(port, "/page.html") == (200, (linked_bundle / "index.html").read_bytes())
        status, body = status_of(port, "/index.html%00.txt")
        assert status == 400
        assert b"NUL byte in the path" in body
        assert status_of(port, "/index.html")[0] == 200  # the server lives on
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert server.returncode == 0
    assert err == ""  # no traceback on the console


def test_text_is_gzipped_for_clients_that_accept_it(tiny_bundle: Path) -> None:
    """As a host that compresses text would send it; the vectors and other clients get the file as it is."""
    server = make_server(tiny_bundle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]

    def fetch(path: str, encoding: str | None) -> tuple[dict[str, str], bytes]:
        connection = http.client.HTTPConnection(str(host), port, timeout=10)
        try:
            connection.request("GET", path, headers={"Accept-Encoding": encoding} if encoding else {})
            response = connection.getresponse()
            return dict(response.getheaders()), response.read()
        finally:
            connection.close()

    try:
        for name in ("metadata.tsv", "projector_config.json", "view.js", "index.html"):
            headers, body = fetch(f"/{name}", "gzip, deflate, br")
            assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding", name
            assert gzip.decompress(body) == (tiny_bundle / name).read_bytes()
            assert int(headers["Content-Length"]) == len(body)
            headers, body = fetch(f"/{name}", None)
            assert "Content-Encoding" not in headers and body == (tiny_bundle / name).read_bytes()
        headers, body = fetch("/vectors.bytes", "gzip")
        assert "Content-Encoding" not in headers and body == (tiny_bundle / "vectors.bytes").read_bytes()
        assert fetch("/metadata.tsv", "gzip;q=0, identity")[0].get("Content-Encoding") is None
    finally:
        server.shutdown()
        server.server_close()


# --- a server that survives its clients ---


def test_a_large_text_file_is_gzipped_as_it_is_sent(tiny_bundle: Path, tmp_path: Path) -> None:
    """Past GZIP_WHOLE_BYTES the file is compressed a piece at a time: no Content-Length, the
    response ends with the connection, and it decompresses to the file."""
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    text = "".join(f"token{i}\t{i}\n" for i in range(300_000)).encode()
    assert len(text) > serve.GZIP_WHOLE_BYTES
    (site / "big.tsv").write_bytes(text)
    server = make_server(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
        connection.request("GET", "/big.tsv", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") == "gzip"
        assert response.getheader("Content-Length") is None
        assert gzip.decompress(response.read()) == text
        connection.close()
    finally:
        server.shutdown()
        server.server_close()


def test_clients_that_go_away_mid_download_are_not_news(tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    (site / "big.tsv").write_bytes(b"0.123456789\t" * 3_000_000)  # 36 MB: far more than a socket buffer
    server, port = serving(site)
    try:
        for encoding in ("gzip", "identity", "gzip", "identity"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(f"GET /big.tsv HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {encoding}\r\n\r\n".encode())
                assert client.recv(1024).startswith(b"HTTP/1.0 200")
                # Close with a reset, as a browser tab does on reload.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert status_of(port, "/index.html")[0] == 200  # the server lives on
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0
    assert err == ""  # no traceback, not even a line


def test_a_fifo_or_device_in_the_folder_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    os.mkfifo(site / "pipe.tsv")
    server, port = serving(site)
    try:
        for path in ("/pipe.tsv",):
            status, body = status_of(port, path)
            assert status == 403
            assert b"not a regular file" in body
        assert status_of(port, "/index.html")[0] == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert err == ""


def test_idle_connections_time_out_and_workers_are_bounded(tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More idle sockets than workers: the threads stay at WORKERS, each idle one is closed
    after the idle timeout, and a real request is answered once a worker is free."""
    monkeypatch.setattr(serve.QuietHandler, "timeout", 1)
    server = make_server(tiny_bundle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = threading.active_count()
    idle = [socket.create_connection(server.server_address[:2], timeout=30) for _ in range(serve.WORKERS + 24)]
    try:
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
        connection.request("GET", "/index.html")
        assert connection.getresponse().read() == (tiny_bundle / "index.html").read_bytes()
        assert threading.active_count() <= before + serve.WORKERS
        # Each idle socket was closed by the server (an empty read is the end of the stream).
        assert [s.recv(1) for s in idle] == [b""] * len(idle)
    finally:
        for s in idle:
            s.close()
        server.shutdown()
        server.server_close()
