"""A user's name that stays: kept in a browser cookie, so it survives a reload and reaches every new tab.

Why a cookie: the browser sends it with the request that opens a session, so the server knows the name on the
page's first run (Streamlit's st.context.cookies), with no round trip through a component and no moment of
"(no name)". The URL would lose it in a tab opened from a bookmark and would hand it to whoever gets a shared
link; browser storage can only be read back through JavaScript, one rerun later."""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from urllib.parse import unquote

COOKIE = "fmnist_user"
MAX_LENGTH = 40
KEEP_S = 180 * 24 * 3600  # a term: long enough for a course, short enough to forget a shared machine's last user


def clean(name: str) -> str:
    """The name as stored: control characters dropped, spaces collapsed, at most MAX_LENGTH characters."""
    printable = "".join(ch for ch in str(name or "") if unicodedata.category(ch)[0] != "C")
    return " ".join(printable.split())[:MAX_LENGTH]


def from_cookies(cookies: Mapping[str, str]) -> str:
    """The name kept in the browser ("" when none)."""
    return clean(unquote(cookies.get(COOKIE, "") or ""))


def cookie_script(name: str) -> str:
    """A <script> that keeps `name` in the browser (an empty name removes the cookie).

    The name is written as a JSON string with '<' escaped, so no name can end the script early."""
    name = clean(name)
    literal = json.dumps(name).replace("<", "\\u003c")
    max_age = KEEP_S if name else 0
    return (f"<script>document.cookie = {json.dumps(COOKIE + '=')} + encodeURIComponent({literal}) + "
            f"\"; Max-Age={max_age}; Path=/; SameSite=Lax\";</script>")
