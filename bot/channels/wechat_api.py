"""The WeChat server API the bot calls: access tokens and customer-service messages.

The access token is cached and refreshed ``refresh_margin`` seconds before it expires,
one refresh at a time (an ``asyncio.Lock``): WeChat invalidates the previous token a few
minutes after a new one is issued, so concurrent refreshes would cut each other off.
URLs carry the app secret and the token, so ``httpx`` must not log at INFO (the channel's
mount sets its logger to WARNING).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
#: Codes meaning the token we sent is stale: refresh and try once more.
_TOKEN_CODES = frozenset({40001, 40014, 42001})
#: 45015: the worker has not written for 48 hours; 45047: too many messages since then.
_WINDOW_CODES = frozenset({45015, 45047})
#: The worker cannot be reached at all (unsubscribed, blocked us, or an unknown OpenID).
_RECIPIENT_CODES = frozenset({40003, 43004, 43019})


class WeChatError(Exception):
    """Base of the errors of the WeChat API client."""


class WeChatUnavailable(WeChatError):
    """The API could not be reached or answered with something other than JSON."""


class WeChatApiError(WeChatError):
    """The API answered with a non-zero ``errcode``.

    Attributes:
        errcode: WeChat's numeric error code (safe to log; the message is not logged).
    """

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat API error {errcode}")
        self.errcode = errcode
        self.errmsg = errmsg[:200]


class OutsideReplyWindow(WeChatApiError):
    """The customer-service window is closed until the worker writes again."""


class RecipientUnavailable(WeChatApiError):
    """The worker cannot receive messages from this account (retrying cannot help)."""


def _api_error(errcode: int, errmsg: str) -> WeChatApiError:
    if errcode in _WINDOW_CODES:
        return OutsideReplyWindow(errcode, errmsg)
    if errcode in _RECIPIENT_CODES:
        return RecipientUnavailable(errcode, errmsg)
    return WeChatApiError(errcode, errmsg)


class WeChatApi:
    """An async client for the token and customer-service endpoints.

    Usage example::

        api = WeChatApi(app_id, app_secret, base_url=settings.secrets.wechat_api_base)
        await api.send_text(openid, "你好")
        await api.aclose()

    Args:
        app_id: the account's AppID.
        app_secret: the account's AppSecret.
        base_url: the API server (``WECHAT_API_BASE``; tests point it at a fake).
        timeout: seconds per HTTP request.
        refresh_margin: refresh the token this many seconds before it expires.
        clock: monotonic seconds (tests pass a fake).
        transport: an httpx transport (tests only).

    Raises:
        ValueError: empty credentials or a non-positive timeout.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str | None = None,
        *,
        timeout: float = 5.0,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not app_id or not app_secret:
            raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET are both needed for the API")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if refresh_margin < 0:
            raise ValueError(f"refresh_margin must be >= 0, got {refresh_margin}")
        self._app_id = app_id
        self._secret = app_secret
        self._margin = refresh_margin
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=(base_url or DEFAULT_API_BASE).rstrip("/"),
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        #: How many tokens were fetched (for tests and the log).
        self.refreshes = 0

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: bytes | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._client.request(
                method,
                path,
                params=params,
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"} if body else None,
            )
        except httpx.HTTPError as exc:
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise WeChatUnavailable(f"{path}: not JSON") from exc
        if not isinstance(data, dict):
            raise WeChatUnavailable(f"{path}: unexpected JSON")
        errcode = data.get("errcode", 0)
        if errcode not in (0, None):
            raise _api_error(int(errcode), str(data.get("errmsg", "")))
        return data

    async def access_token(self) -> str:
        """A valid access token, fetched only when the cached one is near expiry.

        Raises:
            WeChatApiError: WeChat refused the credentials (e.g. 40013, 40125, 40164).
            WeChatUnavailable: the API could not be reached.
        """
        if self._token is not None and self._clock() < self._expires_at:
            return self._token
        async with self._lock:
            # Another task may have refreshed while this one waited for the lock.
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            data = await self._call(
                "GET",
                "/cgi-bin/token",
                {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret},
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatUnavailable("/cgi-bin/token: no access_token in the answer")
            lifetime = float(data.get("expires_in", 7200))
            self._token = token
            self._expires_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
            self.refreshes += 1
            logger.info("wechat access token refreshed, valid for %.0f s", lifetime)
            return token

    def _invalidate(self, token: str) -> None:
        # Only the token that failed: a newer one fetched meanwhile stays.
        if self._token == token:
            self._token = None
            self._expires_at = 0.0

    async def send_text(self, openid: str, text: str) -> None:
        """Send one text message through the customer-service API.

        The body is UTF-8 JSON without ``\\u`` escapes: WeChat shows escapes literally.

        Raises:
            OutsideReplyWindow: the 48-hour window is closed (45015) or used up (45047).
            RecipientUnavailable: unsubscribed, blocked or unknown worker.
            WeChatApiError: any other refusal.
            WeChatUnavailable: the API could not be reached.
        """
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                await self._call(
                    "POST", "/cgi-bin/message/custom/send", {"access_token": token}, body
                )
            except WeChatApiError as exc:
                if exc.errcode in _TOKEN_CODES and attempt == 1:
                    logger.info("wechat token rejected (%d), refreshing", exc.errcode)
                    self._invalidate(token)
                    continue
                raise
            return
