"""How ``Outbound`` messages look on Zalo: plain text, options as a numbered menu, pieces
under the text limit, documents as links. Pure functions, no network."""

from __future__ import annotations

from collections.abc import Sequence

from bot import splitting
from bot.links import DocumentLinks
from dialogs.messages import Document, Outbound, text_menu
from templates.messages import say

# sendMessage takes up to 2000 characters (see bot/zalo_api.py for the sources). Zalo does
# not say how it counts; UTF-16 code units are never fewer than characters, so pieces cut by
# them fit whichever way it counts.
MAX_MESSAGE = 2000


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    return splitting.split_text(text, limit)


def message_text(message: Outbound) -> str:
    """A text message: the engine's text with its options as a numbered list, and the
    command hint under a question."""
    return text_menu(message, say("text_menu_hint"))


def documents_text(documents: Sequence[Document], links: DocumentLinks | None) -> str:
    """One message for the documents of one reply: signed links when the deployment has a
    public URL, else how to get them from a reviewer."""
    if links is None:
        return say("zalo_documents_no_link", names=[d.filename for d in documents])
    issued = [(document.filename, links.link(document).url) for document in documents]
    return say("zalo_documents_links", links=issued, hours=f"{links.ttl_hours:g}")


def render(replies: Sequence[Outbound], links: DocumentLinks | None) -> list[str]:
    """The texts to send for one turn, in order, each within ``MAX_MESSAGE``. Consecutive
    documents share one message; a document's own caption is its file name, so it is not
    repeated, but any other text that comes with it is."""
    texts: list[str] = []
    pending: list[Document] = []

    def flush() -> None:
        if pending:
            texts.extend(split_text(documents_text(pending, links)))
            pending.clear()

    for reply in replies:
        if reply.document is not None:
            if reply.text and reply.text != reply.document.filename:
                flush()
                texts.extend(split_text(message_text(reply)))
            pending.append(reply.document)
            continue
        flush()
        texts.extend(split_text(message_text(reply)))
    flush()
    return texts
