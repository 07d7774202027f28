"""Seed 000's example (companion chat with Luna, chat_id "user-42") against the local backend.

The body is the seed's, byte for byte; the local backend needs its own key (the seed's
``$PHANTOM_KEY``). The answer is a 200 carrying every response field the seed documents, with
the seed's types. Seed 001's example is tested in tests/backend/npc/test_npc_api.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phantom_cli.backend.testing import LiveServer

# The seed file is vendored into the repository (tests/data/spec/seeds, a verbatim copy of the
# spec's seed 000): no test depends on a folder outside the repository.
SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "spec" / "seeds"
HOSTED = "https://api.phantomrouter.ai"

# The request body of seed 000's curl example, verbatim (checked against the vendored seed
# file below).
SEED_000_BODY = """{
"chat_id": "user-42",
"persona": {
"name": "Luna",
"bio": "A warm, witty companion who loves astronomy.",
"chat_style": "playful, curious"
},
"messages": [
{ "role": "user", "content": "Morning! Remember I had that big presentation?" }
],
"temperature": 0.8
}"""

# The seed's example response (its values are illustrative; fields and types are the contract).
SEED_000_RESPONSE: dict[str, Any] = {
    "reply": "Morning, you! Of course - the big one you were dreading. How'd it land?",
    "chat_id": "user-42",
    "moderation": {"inbound_prohibited": False, "outbound_filtered": False},
    "memory": {"retrieved_count": 3, "profile_used": True},
    "extraction_enqueued": True,
}
# The seed's response table: field → type (moderation.reason is optional: "present when
# moderation acted").
SEED_000_FIELDS: dict[str, type] = {
    "reply": str,
    "chat_id": str,
    "moderation.inbound_prohibited": bool,
    "moderation.outbound_filtered": bool,
    "memory.retrieved_count": int,
    "memory.profile_used": bool,
    "extraction_enqueued": bool,
}


def _seed_000() -> str:
    files = sorted(SEED_DIR.glob("000_*.txt"))
    assert files, f"the vendored seed 000 is missing from {SEED_DIR}"
    return files[0].read_text(encoding="utf-8")


def _seed_curl(text: str) -> str:
    """The seed's curl command, from ``curl`` to the closing ``}'``."""
    m = re.search(r"^curl -X POST .*?^\}'$", text, re.S | re.M)
    assert m, "seed 000 has no curl example"
    return m.group(0)


def _get(obj: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        assert isinstance(obj, dict) and part in obj, f"response lacks {dotted!r}: {obj}"
        obj = obj[part]
    return obj


def assert_seed_000_response(data: dict[str, Any]) -> None:
    for dotted, typ in SEED_000_FIELDS.items():
        value = _get(data, dotted)
        assert type(value) is typ, f"{dotted}: {value!r} is not {typ.__name__}"
    # every field of the seed's example object is there too (nested), with the same type
    def walk(example: dict[str, Any], got: dict[str, Any], where: str) -> None:
        for key, value in example.items():
            assert key in got, f"response lacks {where}{key}"
            if isinstance(value, dict):
                walk(value, got[key], f"{where}{key}.")
            else:
                assert type(got[key]) is type(value), f"{where}{key}: {got[key]!r}"
    walk(SEED_000_RESPONSE, data, "")
    assert data["chat_id"] == "user-42"  # echoes the request
    assert data["reply"].strip()
    # a friendly greeting is neither refused nor filtered; then moderation.reason is absent
    assert data["moderation"]["inbound_prohibited"] is False
    assert data["moderation"]["outbound_filtered"] is False
    assert "reason" not in data["moderation"], "seed 000: reason is present only when moderation acted"
    assert data["memory"]["retrieved_count"] >= 0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "srv", engine="scripted", seed=0).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_embedded_body_is_the_seeds() -> None:
    text = _seed_000()
    curl = _seed_curl(text)
    assert f"curl -X POST {HOSTED}/api/v1/companion/chat" in curl
    assert "-d '" + SEED_000_BODY + "'" in curl
    # the example response of the seed is the one this test checks against
    m = re.search(r"^Response\n(\{.*?^\})$", text, re.S | re.M)
    assert m and json.loads(m.group(1)) == SEED_000_RESPONSE


def test_seed_000_example_answers_200_with_every_field(server: LiveServer) -> None:
    r = httpx.post(
        server.base_url + "/api/v1/companion/chat",
        content=SEED_000_BODY.encode(),
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert_seed_000_response(r.json())


def test_seed_000_without_a_key_is_401(server: LiveServer) -> None:
    r = httpx.post(server.base_url + "/api/v1/companion/chat", content=SEED_000_BODY.encode(),
                   headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"


def test_seed_000_curl_command_verbatim(server: LiveServer) -> None:
    """The seed's own curl command, with only the host swapped and $PHANTOM_KEY the local key."""
    text = _seed_000()
    curl, bash = shutil.which("curl"), shutil.which("bash")
    assert curl and bash, "curl and bash are needed (both are in the test image)"
    command = _seed_curl(text).replace(HOSTED, server.base_url, 1)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PHANTOM_KEY": server.api_key,
           "NO_PROXY": "*", "no_proxy": "*"}
    proc = subprocess.run([bash, "-c", command + " --silent --show-error --write-out '\\n%{http_code}'"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    body, _, status = proc.stdout.rpartition("\n")
    assert status == "200", proc.stdout
    assert_seed_000_response(json.loads(body))
