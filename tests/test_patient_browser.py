"""Real browser: 'Evidence for a patient' at 1440×900 and 390×844 — a shared profile link shows its answer, the
form changes it, no "nan"/"None" is visible and the page never scrolls sideways.

The server and Playwright fixtures are those of tests/test_browser.py (Debian chromium; skipped with a message when
it is missing, failed in CI).
"""

from __future__ import annotations

import re

import pytest

from tests.test_browser import SIZES, Visit, app_url, artifacts, browser, kb_home  # noqa: F401  (pytest fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROFILE = "/patient?histology=breast_her2pos&mets=3&diameter=2&setting=intact&drug=trastuzumab_emtansine"


def no_sideways_scroll(visit: Visit) -> None:
    widths = visit.page.evaluate(
        "() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
        " return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " main.scrollWidth, main.clientWidth]; }")
    assert widths[0] <= widths[1] and widths[2] <= widths[3] + 1, widths


def visible_words(visit: Visit) -> set[str]:
    return set(re.findall(r"\b\w+\b", visit.page.locator('[data-testid="stMain"]').inner_text()))


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_shared_profile_shows_its_evidence_cleanly(browser, app_url, artifacts, width, height):
    visit = Visit(browser, app_url, width, height)
    try:
        visit.open(PROFILE)
        body = visit.page.locator('[data-testid="stMain"]').inner_text()
        assert "Evidence for a patient" in body and "never recommends a treatment" in body
        assert "Breast cancer HER2-positive · 3 brain metastases" in body
        assert "NCCTG N0574 (Alliance)" in body and "Why it matches" in body
        words = visible_words(visit)
        assert "nan" not in words and "None" not in words and "NaN" not in words
        no_sideways_scroll(visit)
        for tab, expected in (("Drug signals", "Stumpf 2019"), ("Guidelines", "DEGRO breast panel"),
                              ("What the KB does not know", "No randomized trial in this KB")):
            visit.page.get_by_role("tab", name=re.compile("^" + tab)).click()
            visit.page.wait_for_timeout(300)
            assert expected in visit.page.locator('[data-testid="stMain"]').inner_text()
            assert "nan" not in visible_words(visit) and "None" not in visible_words(visit)
            no_sideways_scroll(visit)
        visit.page.get_by_role("tab", name=re.compile("^Studies")).click()
        visit.check_clean()
        visit.screenshot("patient", width, height)
    finally:
        visit.close()


def test_the_form_changes_the_answer_and_the_address(browser, app_url):
    visit = Visit(browser, app_url, 1440, 900)
    try:
        visit.open(PROFILE)
        visit.multiselect("Systemic drugs now given or planned", "pembrolizumab (anti-PD-1, Keytruda)",
                          "drug=pembrolizumab")
        assert re.search(r"drug=trastuzumab_emtansine&drug=pembrolizumab", visit.page.url)
        visit.page.get_by_role("tab", name=re.compile("^Drug signals")).click()
        visit.page.wait_for_timeout(300)
        body = visit.page.locator('[data-testid="stMain"]').inner_text()
        assert "immune checkpoint inhibitors (ICI)" in body  # the class signal now applies
        visit.check_clean()
    finally:
        visit.close()
