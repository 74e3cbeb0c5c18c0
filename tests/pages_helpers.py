"""AppTest helpers shared by the page tests: open a page the way a shared link does (through app.py's router)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def open_page(page: str, **params) -> AppTest:
    """Run app.py on ``pages/<page>.py`` with these query parameters, as a shared link would; no exception."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
