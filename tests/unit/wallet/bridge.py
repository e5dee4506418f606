"""An ``httpx.Client`` whose transport is a Starlette ``TestClient``: lets the reference wallet
(which takes an injected ``httpx.Client``) talk to an in-process app."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient


def bridge(client: TestClient) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = client.request(
            request.method,
            str(request.url),
            content=request.content,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            follow_redirects=False,
        )
        return httpx.Response(
            answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content
        )

    return httpx.Client(transport=httpx.MockTransport(handler), timeout=5.0)
