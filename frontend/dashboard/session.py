"""Sign-in and the caller's role: the base state every page's state builds on.

The API key is a backend-only variable (leading underscore): Reflex never sends it to the
browser, and the state manager keeps it in the server's memory only. The gateway says which
role the key has (``GET /v1/me``); the role decides what the pages show and enable.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from dashboard.gateway import GatewayError, call

SIGN_IN = "/signin"


class Session(rx.State):
    role: str = ""  # analyst | admin once signed in
    who: str = ""  # the key's non-secret name, as audit entries show it
    error: str = ""  # the last gateway error, shown as a message
    _api_key: str = ""

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
            if exc.status == 401:
                self._api_key, self.role = "", ""
            self.error = exc.message
            return None
        return result

    def guard(self) -> Any:
        """Where to go instead of this page when nobody is signed in (None: stay)."""
        return None if self.signed_in and self._api_key else rx.redirect(SIGN_IN)
