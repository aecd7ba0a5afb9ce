"""A thin async client for the Zalo Bot Platform HTTP API.

What it follows. Zalo's reference (bot.zaloplatforms.com/docs) was not readable from here, so
these facts come from public clients and guides that implement it, cross-checked:
- every method is ``POST {base}/bot{TOKEN}/{method}`` with a JSON body, answered with
  ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": N, "description": "…"}``;
  the base is ``https://bot-api.zaloplatforms.com`` (openclaw ``extensions/zalo/src/api.ts``,
  which cites the reference; docs.beeblast.co/channels/zalo);
- ``getMe``; ``getUpdates {"timeout": "30"}`` long-polls and returns ONE update (not a list,
  and there is no offset), or ``error_code`` 408 when nothing arrived in time (api.ts:
  "Zalo returns a single update per call, not an array like Telegram", ``isPollingTimeout``);
- ``sendMessage {"chat_id", "text"}`` → ``{"message_id", "date"}``, text up to 2000
  characters (beeblast: "split into 2000-character chunks for the Zalo Bot API text limit";
  openclaw ``ZALO_TEXT_LIMIT = 2000``); ``sendChatAction {"chat_id", "action": "typing"}``;
- ``setWebhook {"url", "secret_token"}`` (the secret is 8–256 characters and comes back in the
  ``X-Bot-Api-Secret-Token`` header of every webhook request), ``deleteWebhook``,
  ``getWebhookInfo`` → ``{"url", "updated_at"}``; getUpdates and a webhook are exclusive;
- an update is ``{"event_name": "message.text.received" | "message.image.received" |
  "message.sticker.received" | "message.unsupported.received", "message": {"message_id",
  "date", "text", "chat": {"id", "chat_type": "PRIVATE" | "GROUP"}, "from": {"id",
  "display_name", "is_bot"}}}`` (NovaH00/zalobot-python ``docs/DOCS.md``; python-zalo-bot's
  README: ``update.effective_user.display_name``); a webhook body is that update, though some
  clients unwrap a ``{"ok", "result"}`` envelope, so both are accepted (``bot.zalo``).

Errors: Zalo's reference lists 408 (request timeout) and 403 ("Internal server error") among
its error codes; both are worth asking again, like 429 and 5xx. A request that left and got no
answer (a read time-out, a dropped connection) may have been delivered: ``delivery_unknown``
tells the outbox not to send it again.

The token is part of every URL, so nothing here puts a URL or an httpx exception text in an
error message; ``formbot run zalo`` also silences httpx's request log.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.downloads import download

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
POLL_TIMEOUT = 30  # seconds getUpdates waits for an update
POLLING_TIMEOUT_CODE = 408  # getUpdates: nothing arrived within the timeout
TRANSIENT_CODES = frozenset({403, 408, 429})  # Zalo's "Internal server error", time-out, quota
TYPING = "typing"
# httpx's errors that mean the request never left: no connection was made or free.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ZaloApiError(Exception):
    """A refused or failed call. ``error_code`` is the API's (or the HTTP status, or None for a
    network error); ``delivery_unknown``: the request left and no answer came. The message
    never contains the token."""

    def __init__(
        self,
        method: str,
        error_code: int | None,
        description: str,
        *,
        delivery_unknown: bool = False,
    ) -> None:
        self.method = method
        self.error_code = error_code
        self.description = description
        self.delivery_unknown = delivery_unknown
        code = f" {error_code}" if error_code is not None else ""
        super().__init__(f"{method}:{code} {description}")

    @property
    def transient(self) -> bool:
        """Worth retrying: a network error, a time-out, too many requests or a server error."""
        code = self.error_code
        return code is None or code in TRANSIENT_CODES or code >= 500


class ZaloApi:
    """One bot's calls. ``base_url`` is ``ZALO_BASE_URL`` (another server, e.g. the tests'),
    ``client`` an ``httpx.AsyncClient`` to share (closed by its owner)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
    ) -> None:
        if not token:
            raise ValueError("a Zalo bot token is required")
        self._token = token
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._client = client
        self._own_client = client is None
        self.timeout = timeout

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def call(
        self, method: str, payload: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """``result`` of ``method``, or ``ZaloApiError``."""
        client = await self._http()
        url = f"{self.base_url}/bot{self._token}/{method}"
        try:
            response = await client.post(url, json=payload or {}, timeout=timeout or self.timeout)
        except httpx.HTTPError as exc:
            left = not isinstance(exc, NOT_SENT)
            what = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
            description = f"{what} ({type(exc).__name__})"
            raise ZaloApiError(method, None, description, delivery_unknown=left) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloApiError(method, response.status_code, "not a JSON answer")
        if body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        if not isinstance(code, int):
            code = response.status_code
        description = self._redact(str(body.get("description") or "refused"))
        raise ZaloApiError(method, code, description)

    async def download(self, url: str) -> bytes:
        """A file a person sent (an image message's photo URL), with the API's HTTP client;
        at most 20 MB (``bot.downloads``)."""
        return await download(await self._http(), url)

    # Methods ---------------------------------------------------------------------------------

    async def get_me(self) -> dict:
        return await self.call("getMe")

    async def get_updates(self, timeout: int = POLL_TIMEOUT) -> dict | None:
        """The next update, or None when none arrived within ``timeout`` seconds."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(timeout)}, timeout=timeout + 10.0
            )
        except ZaloApiError as exc:
            if exc.error_code == POLLING_TIMEOUT_CODE:
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def send_message(self, chat_id: str, text: str) -> dict:
        return await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_chat_action(self, chat_id: str, action: str = TYPING) -> Any:
        return await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> dict:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict:
        return await self.call("getWebhookInfo")
