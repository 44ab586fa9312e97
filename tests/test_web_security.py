"""The served chat does not expose files, caps uploads and never shows exception text."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import chat_client, launch_local

from retriever import LiveRetriever
from ui.app import MSG_FAILED, create_app

pytestmark = pytest.mark.slow  # builds indexes with the bundled model, or runs servers

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app_url(seed_index: Path):
    demo = create_app(LiveRetriever(seed_index), feedback_path=seed_index.parent / "feedback.jsonl")
    launch_local(demo)
    yield demo.local_url.rstrip("/"), demo
    demo.close()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("target", ["corpus", "index", "secret"])
@pytest.mark.parametrize("prefix", ["/gradio_api/file=", "/file=", "/gradio_api/file/"])
def test_files_are_not_served(app_url, seed_index: Path, tmp_path: Path, target: str, prefix: str) -> None:
    url, _ = app_url
    path = {
        "corpus": next((REPO / "corpus").glob("*.txt")),
        "index": seed_index / "manifest.json",
        "secret": Path("/etc/passwd"),
    }[target]
    status, body = _get(url + prefix + str(path.resolve()))
    assert status in (400, 403, 404, 405), (status, body[:200])
    assert path.read_bytes()[:40] not in body


def test_server_is_bound_to_loopback(app_url) -> None:
    url, demo = app_url
    assert url.startswith("http://127.0.0.1:") and demo.server_name == "127.0.0.1"


def test_uploads_are_capped(app_url) -> None:
    url, _ = app_url
    boundary = "----korag"
    payload = b"x" * (2 * 1024 * 1024)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url + "/gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status in (400, 413), status


def test_internal_errors_show_a_generic_message(app_url, monkeypatch: pytest.MonkeyPatch) -> None:
    from retriever import Retriever

    def boom(self, *args, **kwargs):
        raise RuntimeError("secret internal detail /etc/passwd")

    url, _ = app_url
    monkeypatch.setattr(Retriever, "ask", boom)
    with pytest.raises(Exception) as info:
        chat_client(url).predict("광주 예산", api_name="/ask")
    assert "secret internal detail" not in str(info.value)
    assert MSG_FAILED in str(info.value)
