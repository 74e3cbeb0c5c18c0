"""Real browser: the Search page updates as the reader types (no Enter) and exports the selection as BibTeX.

Reuses the server and browser helpers of tests/test_browser.py (Debian's chromium; skipped without it)."""

from __future__ import annotations

import re

import bibtexparser
import pytest

from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Visit, _require_chromium, build_home, serve  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    home = build_home(tmp_path_factory.mktemp("search_browser"))
    with serve(home, tmp_path_factory.getbasetemp() / "streamlit_search.log") as url:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            warm_up = Visit(chromium, url, 1440, 900)
            warm_up.open("/")
            warm_up.close()
            yield chromium, url
            chromium.close()


def test_results_follow_typing_and_the_selection_exports_as_bibtex(served):
    browser, url = served
    visit = Visit(browser, url, 1440, 900)
    try:
        visit.open("/search")
        box = visit.page.get_by_label("Search the sources", exact=True)
        box.press_sequentially("minitti 3x9", delay=40)          # typing only: no Enter, no click elsewhere
        visit.page.wait_for_url(re.compile(r"q=minitti"))
        visit.settle()
        body = visit.page.inner_text("body")
        assert "Single-fraction versus multifraction" in body
        box.press_sequentially(" gy", delay=40)                   # the box kept focus and its text
        visit.page.wait_for_url(re.compile(r"q=minitti\+3x9\+gy|q=minitti%203x9%20gy"))
        visit.settle()
        assert box.input_value() == "minitti 3x9 gy"
        visit.page.locator('[data-testid="stCheckbox"]').first.click()
        visit.settle()
        assert "Selection (1 source)" in visit.page.inner_text("body")
        ARTIFACTS.mkdir(exist_ok=True)
        visit.screenshot("search", 1440, 900)
        with visit.page.expect_download() as download:
            visit.page.get_by_role("button", name="BibTeX").click()
        text = open(download.value.path(), encoding="utf-8").read()
        entries = bibtexparser.parse_string(text).entries
        assert [e.key for e in entries] == ["minniti2016"]
        visit.check_clean()
    finally:
        visit.close()
