"""The Zalo bot as the end-to-end tests run it: the real channel and service from
``bot.zalo`` (through ``bot.app``, as ``formbot run zalo`` assembles them), on the Bot API at
``ZALO_BASE_URL`` and the database at ``DATABASE_URL``, serving the fixture form
``tests/fixtures/mini.yaml``.

What differs from ``formbot run zalo``, and why:
- the form comes from the test fixtures (the CLI serves the built-in forms);
- it prints "ready" once started and "handled CHAT_ID" after each update, so a test knows a
  turn is finished without sleeping;
- ``--documents fake`` renders two small stand-in documents on submission, so the links can be
  tested without the DOCX/PDF renderer; retries wait ``--retry-delay`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.app import App, WebSettings, ZaloSettings, serve  # noqa: E402
from dialogs import Engine  # noqa: E402
from dialogs.messages import Document  # noqa: E402
from dialogs.spec import load_spec  # noqa: E402
from storage.db import Database  # noqa: E402

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def fake_documents(spec_id: str):
    async def render(submission_id: int) -> list[Document]:
        return [
            Document(
                f"phieu-{spec_id}-{submission_id}.docx", b"PK\x03\x04 docx %d" % submission_id, DOCX
            ),
            Document(
                f"phieu-{spec_id}-{submission_id}.pdf",
                b"%%PDF-1.4 pdf %d" % submission_id,
                "application/pdf",
            ),
        ]

    return render


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--form", default=str(ROOT / "tests" / "fixtures" / "mini.yaml"))
    parser.add_argument("--webhook-url")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--documents", choices=("none", "fake"), default="none")
    parser.add_argument("--retry-delay", type=float, default=0.05)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    spec = load_spec(args.form)
    settings = ZaloSettings.from_env(args.webhook_url)
    settings = dataclasses.replace(settings, retry_delays=(args.retry_delay, args.retry_delay))
    renderer = fake_documents(spec.id) if args.documents == "fake" else None
    engine = Engine(Database(), forms={spec.id: spec}, render_documents=renderer)
    app = App(
        engine,
        zalo=settings,
        web=WebSettings("127.0.0.1", args.port),
        on_handled=lambda chat: print(f"handled {chat}", flush=True),
    )
    return asyncio.run(serve(app, prog="zalo_bot", on_ready=lambda: print("ready", flush=True)))


if __name__ == "__main__":
    sys.exit(main())
