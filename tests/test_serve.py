"""`make serve`'s server: loopback only, the URL on stdout, one-line errors."""

from __future__ import annotations

import gzip
import http.client
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from support import ROOT

from projector_bundle import cli
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
