"""The receiver examples in docs/webhooks.md and the README verify what Reelay signs, and refuse a tampered body."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from webhooks.signing import new_secret, signed_headers

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "webhooks.md", ROOT / "README.md"]


def documented_verify(doc: Path) -> Callable[..., Any]:
    [code] = [
        block for block in re.findall(r"```python\n(.*?)```", doc.read_text(), re.DOTALL) if "def verify" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(doc), "exec"), namespace)
    verify: Callable[..., Any] = namespace["verify"]
    return verify


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_the_documented_receiver_accepts_reelays_signature_and_refuses_tampering(doc: Path) -> None:
    verify = documented_verify(doc)
    secret = new_secret()
    body = b'{"type":"job.succeeded","timestamp":"2026-12-07T00:00:00.000Z","data":{"id":"j1"}}'
    headers = signed_headers(secret, "msg_doc", body)

    verify(secret, headers, body)
    with pytest.raises(ValueError, match="bad signature"):
        verify(secret, headers, body.replace(b"j1", b"j2"))
    with pytest.raises(ValueError, match="bad signature"):
        verify(new_secret(), headers, body)
