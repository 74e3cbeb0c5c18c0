"""Who is signed in, bound to the browser that signed in.

Streamlit keeps a sign-in in the server-side session, and a session can be re-attached by anyone who presents its
id over the websocket. So a sign-in here is bound to a secret only the signing browser holds: the random token of
Streamlit's XSRF cookie (``_streamlit_xsrf``), which the browser sends with every websocket connection and which
``st.context.cookies`` shows for the connection that runs the current rerun. Every rerun compares a hash of that
token with the one recorded at sign-in; on a mismatch (another browser presenting the session id) the session is
signed out before anything of the editor's is shown.

OIDC sign-ins (``st.login``) keep Streamlit's own signed cookie; on top of it, the identity token's expiry
(``exp``), which ``st.user`` does not check, is enforced here.
"""

from __future__ import annotations

import binascii
import hashlib
import time

import streamlit as st

XSRF_COOKIE = "_streamlit_xsrf"
NO_BINDING_MESSAGE = ("Signing in is switched off on this server: its XSRF protection is disabled, so a sign-in "
                      "could not be tied to your browser. Ask the administrator to set "
                      "server.enableXsrfProtection = true (see the README, 'Serving many users').")


def xsrf_token(cookie_value: str | None) -> bytes | None:
    """The random bytes inside an XSRF cookie value, without the mask Streamlit changes on every response.

    >>> xsrf_token("2|01020304|0b0b0b0b|1700000000")
    b'\\n\\t\\x08\\x0f'
    >>> xsrf_token(None) is None, xsrf_token("2|zz|zz|1") is None
    (True, True)
    """
    value = (cookie_value or "").strip("\"' ")
    if not value:
        return None
    try:
        if value.startswith("2|"):
            _version, mask_hex, masked_hex, _timestamp = value.split("|")
            mask, masked = binascii.unhexlify(mask_hex), binascii.unhexlify(masked_hex)
            if not mask:
                return None
            return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)) or None
        return binascii.unhexlify(value) or None  # version 1: the token in hex
    except (ValueError, binascii.Error):
        return None


def browser_key() -> str | None:
    """A fingerprint of this browser's XSRF token (None when the connection carries no such cookie)."""
    token = xsrf_token(st.context.cookies.get(XSRF_COOKIE))
    return hashlib.sha256(token).hexdigest() if token else None


def _from_a_browser() -> bool:
    """True for a real client connection (it sends HTTP headers); False in AppTest, which has no client."""
    return bool(st.context.headers)


def binding_problem() -> str | None:
    """Why this connection cannot sign in (no cookie to bind to), or None."""
    if _from_a_browser() and browser_key() is None:
        return NO_BINDING_MESSAGE
    return None


def sign_in_here(name: str) -> None:
    """Remember ``name`` as signed in, bound to this browser."""
    st.session_state["editor"] = name
    st.session_state["editor_browser"] = browser_key()


def sign_out() -> None:
    st.session_state.pop("editor", None)
    st.session_state.pop("editor_browser", None)


def current_editor() -> str | None:
    """The editor signed in with a password in THIS browser, or None. A session re-attached from another browser
    (a different or missing XSRF token) is signed out here."""
    name = st.session_state.get("editor")
    if not name:
        return None
    if st.session_state.get("editor_browser") != browser_key():
        sign_out()
        return None
    return name


def oidc_expired() -> bool:
    """True when an OIDC sign-in's identity token has expired (``st.user`` keeps showing it as logged in)."""
    if not getattr(st.user, "is_logged_in", False):
        return False
    try:
        exp = float(st.user.get("exp"))
    except (TypeError, ValueError):
        return False
    return exp <= time.time()
