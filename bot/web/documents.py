"""The signed document links (``bot.links``) as a route: ``…/documents/{sha256}/{filename}``;
the documents are in the database, so any worker serves any link."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.links import DocumentLinks


def document_routes(links: DocumentLinks) -> list[Route]:
    async def download(request: Request) -> Response:
        query = {name: request.query_params.get(name, "") for name in ("expires", "sig")}
        # As requested (percent-encoded): the file name is decoded once, by ``resolve``.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        found = await links.resolve(raw_path.decode("latin-1"), query)
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        if found.status != 200:
            return Response(status_code=found.status, headers=headers)
        ascii_name = found.filename.encode("ascii", "replace").decode().replace('"', "_")
        quoted = quote(found.filename, safe="")
        headers["Content-Disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"
        )
        return Response(found.data, media_type=found.mime_type, headers=headers)

    # Anything before /documents/ is the public URL's own path (a proxy may keep it).
    return [Route("/{prefix:path}documents/{digest}/{name}", download, methods=["GET"])]
