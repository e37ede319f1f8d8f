"""Sign-in and the caller's role: the base state every page's state builds on.

The API key is a backend-only variable (leading underscore): Reflex never sends it to the
browser, and the state manager keeps it in the server's memory only. The gateway says which
role the key has (``GET /v1/me``); the role decides what the pages show and enable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import reflex as rx

from dashboard.gateway import GatewayError, call

SIGN_IN = "/signin"
T = TypeVar("T")


class Session(rx.State):
    role: str = ""  # analyst | admin once signed in
    who: str = ""  # the key's non-secret name, as audit entries show it
    error: str = ""  # the last gateway error, shown as a message
    _api_key: str = ""
    _refreshing: bool = False  # a background refresh is under way (the next tick skips)

    @rx.var
    def signed_in(self) -> bool:
        return self.role in ("analyst", "admin")

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    @rx.event
    async def sign_in(self, form: dict[str, Any]) -> Any:
        key = str(form.get("api_key", "")).strip()
        if not key:
            self.error = "Enter an API key (`sentinel up` prints this installation's keys)."
            return None
        try:
            me = await call(key, "GET", "/v1/me")
        except GatewayError as exc:
            self.error = "That key is not valid here." if exc.status == 401 else exc.message
            return None
        if "analyst" not in me["roles"]:
            self.error = (
                f"This key has the {me['role']} role: it may score transactions but not open the dashboard. "
                "Sign in with an analyst or admin key."
            )
            return None
        self._api_key, self.role, self.who, self.error = key, me["role"], me["name"], ""
        return rx.redirect("/")

    @rx.event
    def sign_out(self) -> Any:
        self._api_key, self.role, self.who, self.error = "", "", "", ""
        return rx.redirect(SIGN_IN)

    async def gateway(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        """A gateway call with the signed-in key; None (and the message shown) when it fails.

        ``missing_ok``: a 404 (an endpoint or record that is not there yet) is None, not an error.
        """
        try:
            result = await call(self._api_key, method, path, params, body)
        except GatewayError as exc:
            if missing_ok and exc.status == 404:
                return None
            self._failed(exc)
            return None
        return result

    def _assign(self, **values: Any) -> None:
        """Sets the vars whose value changed, and only those. An assignment marks a var dirty even when
        the value is equal, and the browser re-renders everything that reads a dirty var's state (for
        ``error``, a Session var: the whole shell): a refresh that changes nothing should cost nothing."""
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    def _failed(self, exc: GatewayError) -> None:
        if exc.status == 401:
            self._api_key, self.role = "", ""
        self.error = exc.message

    async def refresh_locked(self, fetch: Callable[[str], Awaitable[T]], show: Callable[[T], None]) -> None:
        """The same refresh from a regular event (a page's load), which holds the lock anyway."""
        try:
            answers = await fetch(self._api_key)
        except GatewayError as exc:
            self._failed(exc)
            return
        show(answers)

    async def refresh_unlocked(self, fetch: Callable[[str], Awaitable[T]], show: Callable[[T], None]) -> None:
        """A page's periodic refresh from a background event: ``fetch`` (gateway calls with the key)
        runs outside the state's lock, so clicks, keys and page changes are never queued behind it;
        only ``show`` (the answers into the state) holds the lock. One refresh at a time."""
        async with self:
            if self._refreshing or not self.signed_in:
                return
            self._refreshing, key = True, self._api_key
        answers: T | None = None
        failure: GatewayError | None = None
        try:
            answers = await fetch(key)
        except GatewayError as exc:
            failure = exc
        finally:
            async with self:
                self._refreshing = False
                if failure is not None:
                    self._failed(failure)
                elif answers is not None:
                    show(answers)

    def guard(self) -> Any:
        """Where to go instead of this page when nobody is signed in (None: stay)."""
        return None if self.signed_in and self._api_key else rx.redirect(SIGN_IN)
