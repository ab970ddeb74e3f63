"""``/v1/docs``: the OpenAPI document rendered as one self-contained HTML page (no CDN, no script), so it works
offline and behind any content security policy."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "section{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}"
    ".method{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}"
    "pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:.85rem}"
)


def docs_page(spec: dict[str, Any]) -> str:
    """Every operation with its summary, parameters, answers and schemas."""
    info = spec.get("info", {})
    base = (spec.get("servers") or [{"url": ""}])[0]["url"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(str(info.get('title', 'API')))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(str(info.get('title', 'API')))}</h1>",
        f"<p>{escape(str(info.get('description', '')))}</p>",
        "<p>Every request: <code>Authorization: Bearer &lt;key&gt;</code>. "
        f"The OpenAPI 3.1 document: <a href='{escape(base)}/openapi.json'>openapi.json</a>.</p>",
    ]
    for path, operations in spec.get("paths", {}).items():
        for method in _METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            parts.append(_operation(method, base + path, operation))
    schemas = spec.get("components", {}).get("schemas", {})
    parts.append("<h2>Schemas</h2>")
    for name, schema in schemas.items():
        parts.append(f"<h3 id='{escape(name)}'>{escape(name)}</h3><pre>{escape(json.dumps(schema, indent=2))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    rows = [
        f"<section class='operation'><h2><span class='method'>{method}</span> <code>{escape(path)}</code></h2>",
        f"<p class='summary'>{escape(str(operation.get('summary', '')))}</p>",
    ]
    params = operation.get("parameters", [])
    if params:
        items = "".join(
            f"<li><code>{escape(str(p.get('name')))}</code> ({escape(str(p.get('in')))})</li>" for p in params
        )
        rows.append(f"<p>Parameters:</p><ul>{items}</ul>")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body:
        rows.append(f"<p>Body:</p><pre>{escape(json.dumps(body, indent=2))}</pre>")
    answers = ", ".join(
        f"{escape(code)} {escape(str(answer.get('description', '')))}"
        for code, answer in operation.get("responses", {}).items()
    )
    rows.append(f"<p>Answers: {answers}</p></section>")
    return "".join(rows)
