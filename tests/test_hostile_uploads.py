"""Hostile uploads and scripts sent to a running `govflow serve`: refused with sentences, nothing reaches out.

- XML bombs (entity expansion), external entities (a local file, a URL on a listener this test runs), a
  parameter entity, an XInclude, entities hidden in UTF-16: 422 with a sentence, the file's content never in
  the answer, the listener never called.
- A 50 MB upload, with a Content-Length and streamed without one: 413 with a sentence, and the server's
  workers do not grow by the upload's size (their peak memory is read from /proc).
- Elements nested 10,000 deep and a loop of tasks too long to parse: 422 with a sentence, no RecursionError.
- Scripts that import, walk dunder attributes, call getattr, eval or open: refused at upload, naming element
  and line. Scripts that loop forever, pile up memory, make gigabytes of text or walk attributes through a
  format string deploy (nothing tells them apart before they run) but fail their case's step within the
  time and memory budget, and the server answers on.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serving import Server
from tests.test_bundle_parsing import chain_of_tasks
from tests.test_hazards import process

pytestmark = pytest.mark.slow

BPMN_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
MINIMAL = (
    f'<bpmn:definitions {BPMN_NS} id="d" targetNamespace="http://x">'
    '<bpmn:process id="p" name="{name}" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>'
    "</bpmn:definitions>"
)


class Listener:
    """A TCP port that records whether anything connected to it (a URL an external entity might fetch)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def with_doctype(doctype: str, name: str, encoding: str = "UTF-8") -> bytes:
    """A minimal process whose file declares `<!DOCTYPE {doctype}>` and whose name is `name`."""
    text = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE {doctype}>' + MINIMAL.replace("{name}", name)
    return text.encode(encoding.lower())


def hostile_documents(listener: Listener, secret: Path) -> dict[str, bytes]:
    laughs = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    return {
        "billion_laughs.bpmn": (
            f"<?xml version='1.0'?><!DOCTYPE d [{laughs}]>" + MINIMAL.replace("{name}", "&lol9;")
        ).encode(),
        "file_entity.bpmn": with_doctype(f'd [<!ENTITY e SYSTEM "file://{secret}">]', "&e;"),
        "url_entity.bpmn": with_doctype(f'd [<!ENTITY e SYSTEM "http://127.0.0.1:{listener.port}/x">]', "&e;"),
        "parameter_entity.bpmn": with_doctype(
            f'd [<!ENTITY % p SYSTEM "http://127.0.0.1:{listener.port}/p.dtd"> %p;]', "x"
        ),
        "external_dtd.bpmn": with_doctype(f'd SYSTEM "http://127.0.0.1:{listener.port}/d.dtd"', "x"),
        "xinclude.bpmn": MINIMAL.replace(
            '<bpmn:startEvent id="s"/>',
            f'<bpmn:startEvent id="s"/><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://{secret}" '
            'parse="text"/>',
        )
        .replace("{name}", "x")
        .encode(),
        "utf16_entity.bpmn": with_doctype(f'd [<!ENTITY e SYSTEM "file://{secret}">]', "&e;", "UTF-16"),
        "deep_nesting.bpmn": MINIMAL.replace(
            '<bpmn:startEvent id="s"/>',
            '<bpmn:startEvent id="s"/>' + "<bpmn:documentation>" * 10_000 + "</bpmn:documentation>" * 10_000,
        )
        .replace("{name}", "x")
        .encode(),
        "long_loop.bpmn": chain_of_tasks(1000, loop=True),
    }


def upload(client: httpx.Client, files: dict[str, bytes]) -> httpx.Response:
    return client.post("/deployments", files=[("files", (name, body)) for name, body in files.items()])


def sentence_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == response.status_code and body["detail"]
    assert "Traceback" not in response.text and "RecursionError" not in response.text
    return body


# Refused before anything is written: the database under the server does not matter, so SQLite only.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_xml_bombs_external_entities_and_deep_nesting_are_refused_with_sentences_and_reach_nothing(
    server: Server, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-MARKER\n")
    listener = Listener()
    try:
        with server.client("designer") as designer:
            for name, body in hostile_documents(listener, secret).items():
                started = time.monotonic()
                answer = upload(designer, {name: body})
                assert answer.status_code == 422, (name, answer.text)
                problem = sentence_of(answer)
                [error] = [e for e in problem["errors"] if e["file"] == name][:1]
                assert error["message"].endswith((".", "。")), (name, error)
                assert "SECRET-MARKER" not in answer.text
                assert time.monotonic() - started < 10, name
            documents = hostile_documents(listener, secret)
            assert "DOCTYPE" in upload(designer, {"x.bpmn": documents["url_entity.bpmn"]}).text
            nested = upload(designer, {"deep.bpmn": documents["deep_nesting.bpmn"]})
            assert "nested more than" in nested.text
            looping = upload(designer, {"loop.bpmn": chain_of_tasks(1000, loop=True)})
            assert "too long" in looping.text
            assert designer.get("/process-definitions").json()["items"] == []
        time.sleep(0.3)  # anything fetched would have connected by now
        assert listener.connections == 0
    finally:
        listener.close()


def worker_peaks(server: Server) -> dict[int, int]:
    """The peak resident memory (kB) of each gunicorn worker of the server."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    peaks = {}
    for pid in map(int, children):
        status = Path(f"/proc/{pid}/status").read_text()
        peaks[pid] = int(status.split("VmHWM:")[1].split()[0])
    return peaks


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_50_mb_upload_is_refused_with_413_and_a_sentence_before_the_server_reads_it(server: Server) -> None:
    size = 50 * 1024 * 1024
    before = worker_peaks(server)
    with server.client("designer") as designer:
        with_length = designer.post("/deployments", files=[("files", ("huge.bpmn", b"<" + b"x" * size))], timeout=120)

        def stream():  # noqa: ANN202 - no Content-Length: the server must stop reading by itself
            chunk = b"x" * (1024 * 1024)
            yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="huge.bpmn"\r\n\r\n'
            for _ in range(50):
                yield chunk
            yield b"\r\n--b--\r\n"

        try:
            streamed = designer.post(
                "/deployments",
                content=stream(),
                headers={"Content-Type": "multipart/form-data; boundary=b"},
                timeout=120,
            )
        except httpx.WriteError:
            streamed = None  # the server answered and closed before the rest was sent
    for answer in [with_length] + ([streamed] if streamed is not None else []):
        assert answer.status_code == 413, answer.text[:300]
        assert "too large" in sentence_of(answer)["detail"]
    after = worker_peaks(server)
    grown = {pid: after[pid] - before.get(pid, after[pid]) for pid in after}
    assert max(grown.values()) < 30 * 1024, grown  # a 50 MB body read into memory would show here
    assert httpx.get(f"{server.url}/api/v1/healthz", timeout=10).status_code == 200


REACHING_OUT = {
    "an import": "import os\nos.system('id')",
    "__import__": "x = __import__('os')",
    "a dunder walk": "x = ().__class__.__base__.__subclasses__()",
    "a frame walk": "g = (i for i in [1])\nx = g.gi_frame.f_back",
    "getattr": "x = getattr((), '__class__')",
    "eval": "x = eval('1')",
    "open": "x = open('/etc/passwd').read()",
}
AT_RUN_TIME = {  # nothing tells these apart before they run: they deploy, and their step fails in budget
    "a format walk": ("x = '{0.__class__}'.format(1)", "name '__class__' is not allowed"),
    "a loop that never ends": ("n = 0\nwhile True:\n    n += 1", "ran longer than"),
    "memory piled up": ("rows = []\nwhile True:\n    rows.append('户' * 3000000)", "MB of memory"),
    "gigabytes of text": ("row = [0] * 1000000\nrows = [row] * 1000000\ntext = str(rows)", "characters"),
    "one huge allocation": ("x = [0] * 10**9", "more than 1,000,000 items"),
}


def script(element_id: str, body: str) -> str:
    escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<bpmn:scriptTask id="{element_id}" name="计算"><bpmn:script>{escaped}</bpmn:script></bpmn:scriptTask>'


def test_scripts_that_reach_out_are_refused_at_upload_and_runaway_scripts_fail_their_step_in_budget(
    server: Server,
) -> None:
    with server.client("designer") as designer:
        for what, body in REACHING_OUT.items():
            bundle = {"reach.bpmn": process("reach", "越权脚本", [script("compute", "ok = 1\n" + body)])}
            answer = upload(designer, bundle)
            assert answer.status_code == 422, (what, answer.text)
            [error] = [e for e in sentence_of(answer)["errors"] if e["element_id"] == "compute"]
            assert error["line"] is not None, (what, error)
            assert "not allowed" in error["message"], (what, error)
        for number, (what, (body, _says)) in enumerate(AT_RUN_TIME.items()):
            bundle = {f"runaway{number}.bpmn": process(f"runaway{number}", what, [script("compute", body)])}
            answer = upload(designer, bundle)
            assert answer.status_code == 201, (what, answer.text)
    with server.client("wang") as wang:
        for number, (what, (_body, says)) in enumerate(AT_RUN_TIME.items()):
            started = time.monotonic()
            case = wang.post("/process-instances", json={"process_key": f"runaway{number}", "org_unit": "qiaoyi"})
            assert case.status_code == 201, (what, case.text)
            assert case.json()["status"] == "failed", what
            assert case.json()["error"]["element_id"] == "compute"
            assert says in case.json()["error"]["message"], (what, case.json()["error"])
            assert time.monotonic() - started < 15, what
            assert httpx.get(f"{server.url}/api/v1/healthz", timeout=10).status_code == 200
