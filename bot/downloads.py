"""Downloading a file a person sent (a Zalo photo URL), at most ``limit`` bytes.

The body is streamed and the download stops as soon as it passes the limit, so a huge file
costs no more than the limit. Called by the engine before a turn's transaction
(``dialogs.collecting.prepare_attachment``), never inside it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from dialogs.evidence import MAX_FILE, EvidenceRefusal, megabytes

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


async def download(client: httpx.AsyncClient, url: str, limit: int = MAX_FILE) -> bytes:
    """The bytes at ``url`` (http or https only); ``EvidenceRefusal`` when they pass
    ``limit``; ``httpx.HTTPError`` when the download fails (the engine says so)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise httpx.InvalidURL("not an http(s) URL")
    chunks: list[bytes] = []
    size = 0
    async with client.stream("GET", url, timeout=TIMEOUT, follow_redirects=True) as response:
        response.raise_for_status()
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise EvidenceRefusal("evidence_too_large", size=megabytes(int(declared)))
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise EvidenceRefusal("evidence_too_large", size=megabytes(size))
            chunks.append(chunk)
    return b"".join(chunks)
