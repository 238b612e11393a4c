"""The signature-verification snippets of docs/integrations.md, run as they are written: the Python one here, the
JavaScript one with Node, each against signatures made the way the gateway signs deliveries."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from pathlib import Path

import orjson

from gateway.webhooks import signing

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def snippet(language: str, defines: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    (found,) = [b for b in blocks if defines in b]
    return found


def cases() -> list[tuple[bytes, str, str, bool]]:
    body = orjson.dumps({"id": "e1", "type": "incident.transitioned", "data": {"title": "Zürich ☂"}})
    now = int(time.time())
    return [
        (body, signing.signature_header(["whsec_new"], now, body), "whsec_new", True),
        (body, signing.signature_header(["whsec_new", "whsec_old"], now, body), "whsec_old", True),
        (body, signing.signature_header(["whsec_new"], now, body), "whsec_other", False),
        (body + b" ", signing.signature_header(["whsec_new"], now, body), "whsec_new", False),
        (body, signing.signature_header(["whsec_new"], now - 3600, body), "whsec_new", False),
        (body, "v1=deadbeef", "whsec_new", False),
    ]


def test_the_python_snippet() -> None:
    namespace: dict = {}
    exec(snippet("python", "def verify_vigil_signature"), namespace)  # noqa: S102 - the documented code
    verify = namespace["verify_vigil_signature"]
    assert [verify(body, header, secret) for body, header, secret, _ in cases()] == [c[3] for c in cases()]


async def test_the_node_snippet(tmp_path: Path) -> None:
    script = tmp_path / "verify.js"
    script.write_text(snippet("javascript", "function verifyVigilSignature") + """
const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cases.map(([body, header, secret]) =>
  verifyVigilSignature(Buffer.from(body, "base64"), header, secret))));
""")
    inputs = orjson.dumps([[base64.b64encode(b).decode(), h, s] for b, h, s, _ in cases()])
    node = await asyncio.create_subprocess_exec("node", str(script), stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await node.communicate(inputs)
    assert node.returncode == 0, err.decode()
    assert orjson.loads(out) == [c[3] for c in cases()]
