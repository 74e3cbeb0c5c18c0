"""Real browser: Playwright drives Debian's chromium against `streamlit run app.py` on a free port.

Every page is visited at 1440×900 and 390×844, one filter applied and its visible result checked; then the page is
*looked at* (tests/browser_look.py): any visible "nan"/"None" or raw badge/icon markup in the page, its tables (read
from what the canvas draws) or its charts, any link to …/nan, any chart narrower than 90% of its column or cut off,
and on the phone any sideways scrolling of the page fails the test. On the desktop every table's "All columns"
switch is turned on first, so hidden columns are looked at too. Screenshots (the first screen, and the whole page
as ``*_full.png``) go to tests/artifacts/. Any Streamlit exception box or browser console error fails the test.
Without /usr/bin/chromium the tests skip (install it with `apt-get install chromium`); in CI (env CI set) they fail.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from bench import servers

import browser_look

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SIZES = ((1440, 900), (390, 844))
# Streamlit's own probe when a page's URL is opened directly: it first tries <page>/_stcore/health (404), then
# /_stcore/health (streamlit/streamlit#7074, open). Not an app error; every other console error fails the test.
KNOWN_STREAMLIT_PROBE = re.compile(r"status of 404 .*\(https?://[^/]+/[\w-]+/_stcore/(health|host-config|"
                                   r"allowed-message-origins)\)$")
TIMEOUT_MS = 45_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium with `apt-get install chromium`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def serve(home: Path, log_path: Path):
    """`streamlit run app.py` on a free port as the editor instance of ``home`` (its store and releases); yields its
    URL, stops it after (bench.servers.serve, which the multi-process tests and benchmarks use too)."""
    return servers.serve({"KB_HOME": str(home), "KB_READ_ONLY": None, "KB_DB": None, "KB_RELEASES": None}, log_path,
                         timeout_s=60)


@pytest.fixture(scope="module")
def kb_home(tmp_path_factory) -> Path:
    """An instance built from data/ in a temporary folder (its store and first published release; never the
    repository's), served as the app serves it."""
    _require_chromium()
    return build_home(tmp_path_factory.mktemp("browser"))


def build_home(home: Path) -> Path:
    """An instance at ``home`` built from data/: its editorial store and first published release."""
    from kb.rebuild import rebuild_store
    from kb.store import get_store

    store = get_store(home)
    rebuild_store(store)
    store.close()
    return home


@pytest.fixture(scope="module")
def browser(kb_home):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app_url(kb_home, browser, tmp_path_factory):
    """The app served for the module's page visits, opened once at '/' first: until app.py has run, Streamlit
    treats the pages/ folder as an old-style multipage app (see the xfail test below)."""
    with serve(kb_home, tmp_path_factory.getbasetemp() / "streamlit.log") as url:
        warm_up = Visit(browser, url, 1440, 900)
        try:
            warm_up.open("/")
        finally:
            warm_up.close()
        yield url


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class Visit:
    """One browser page at one size, recording console errors and uncaught page errors."""

    def __init__(self, browser, app_url: str, width: int, height: int):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.add_init_script(browser_look.RECORD_CANVAS_TEXT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.app_url = app_url
        self.errors: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"{msg.text} ({msg.location.get('url', '')})"))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, path: str) -> None:
        """Go to ``path`` and wait for the run to finish; on a loaded machine the first load can stall, so a
        page that never draws its app is loaded once more before the test gives up."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.goto(self.app_url + path)
        try:
            self.settle()
        except PlaywrightTimeout:
            self.page.goto(self.app_url + path)
            self.settle()

    def settle(self) -> None:
        """Wait until the script run is over (Streamlit marks the app root) and nothing is still loading."""
        page = self.page
        page.wait_for_selector('[data-testid="stApp"]')
        page.wait_for_timeout(300)
        page.wait_for_function(
            "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
            " return app && app.getAttribute('data-test-script-state') === 'notRunning'; }")
        page.wait_for_selector('[data-testid="stSpinner"]', state="detached")
        page.wait_for_timeout(400)

    def click_until_url(self, target, url: re.Pattern) -> None:
        """Click a link that switches page and wait for its address. With the other test worker loading both
        cores, a click that lands while the app is still wiring its handlers can go unanswered (seen once in
        about 60 runs): a person would click again, and so does the test, once, before it fails."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        target.click()
        try:
            self.page.wait_for_url(url, timeout=15000)
        except PlaywrightTimeout:
            target.click()
            self.page.wait_for_url(url)

    def text_input(self, label: str, text: str, url_has: str) -> None:
        """Type into a text input and wait until the filter reaches the URL (the rerun has happened)."""
        box = self.page.get_by_label(label, exact=True)
        box.fill(text)
        box.press("Enter")
        self.page.wait_for_url(re.compile(re.escape(url_has)))
        self.settle()

    def multiselect(self, label: str, typed: str, url_has: str, option=None) -> None:
        """Type ``typed`` into a multiselect, pick the option it finds (``option``: its name, by default the typed
        text) and wait until the filter reaches the URL."""
        widget = self.page.locator('[data-testid="stMultiSelect"]').filter(
            has=self.page.get_by_text(label, exact=True))
        box = widget.locator("input").first
        box.click()
        box.fill(typed)
        self.page.get_by_role("option", name=option or typed, exact=option is None).first.wait_for()
        box.press("Enter")
        self.page.keyboard.press("Escape")
        self.page.wait_for_url(re.compile(re.escape(url_has)))
        self.settle()

    def table_text(self, nth: int = 0) -> str:
        """Every cell of a table, as " | "-joined text. The grid draws on a canvas; its accessible copy holds the
        cells in view, so the grid is brought into view and scrolled through (browser_look.SCAN_GRID)."""
        grid = self.page.locator('[data-testid="stDataFrame"]').nth(nth)
        return " | ".join(grid.evaluate(browser_look.SCAN_GRID, True))

    def check_clean(self) -> None:
        exceptions = self.page.locator('[data-testid="stException"]')
        assert exceptions.count() == 0, exceptions.first.inner_text()
        errors = [e for e in self.errors if not KNOWN_STREAMLIT_PROBE.search(e)]
        assert not errors, errors

    def screenshot(self, name: str, width: int, height: int) -> None:
        """The viewport from the top of the page (the main area scrolls inside the app, not the document)."""
        self.page.evaluate("() => { document.activeElement && document.activeElement.blur();"
                           " for (const el of document.querySelectorAll('[data-testid=\"stMain\"], section.main'))"
                           " el.scrollTo(0, 0); window.scrollTo(0, 0); }")
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}_{width}x{height}.png"))

    def screenshot_full(self, name: str, width: int, height: int) -> None:
        """The whole page, top to bottom: the window is made as tall as the main area for the shot."""
        tall = self.page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body)"
                                  ".scrollHeight")
        self.page.set_viewport_size({"width": width, "height": min(int(tall) + 40, 16000)})
        self.page.wait_for_timeout(800)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}_{width}x{height}_full.png"))
        self.page.set_viewport_size({"width": width, "height": height})

    def close(self) -> None:
        self.context.close()


def _sources(v: Visit) -> None:
    v.open("/sources")
    v.text_input("Filter by words in authors, title, journal, DOI or year", "Brown 2016 cognitive", "q=Brown")
    assert re.search(r"\b[1-9]\d* of \d+ sources", v.page.inner_text("body"))
    assert "Brown PD" in v.table_text()


def _home(v: Visit) -> None:
    v.open("/")
    body = v.page.inner_text("body")
    assert "BrainMets KB" in body and "not medical advice" in body
    # the search box leads to the Search page with the query
    v.text_input("Search the literature", "T-DM1 radionecrosis", "q=T-DM1")
    assert "/search" in v.page.url and "Stumpf" in v.page.inner_text("body")
    v.open("/")
    for shortcut in ("Open the trials", "Open the drug–SRS signals", "Open the review queue"):
        v.page.get_by_role("link", name=shortcut).wait_for(state="visible", timeout=5000)


def _search(v: Visit) -> None:
    v.open("/search?q=melanoma%20radiosurgery")
    assert re.search(r"\b\d+ best matches for", v.page.inner_text("body"))


def _explorer_eligibility(v: Visit) -> None:
    """The issue's case: melanoma, checkpoint inhibitor, 3 metastases lists the melanoma ICI studies, marked."""
    v.open("/explorer?histology=melanoma&drug_class=immune_checkpoint_inhibitor&mets=3")
    body = v.page.inner_text("body")
    assert re.search(r"\b9 of \d+ studies", body), body[:2000]
    assert "do not record this eligibility" in body
    cells = v.table_text()
    assert "CheckMate 204" in cells and "not recorded" in cells


def _explorer_study(v: Visit) -> None:
    """One study's figures: the outcomes tab with its table and charts (Sahgal 2015: four age subgroups)."""
    v.open("/explorer?study=sahgal2015&compare=overall_survival")
    v.page.get_by_role("tab", name=re.compile(r"^Outcomes")).click()
    v.settle()
    chart = v.page.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    chart.locator("svg text").first.wait_for()
    labels = " ".join(chart.locator("svg text").all_text_contents())
    for age in (35, 40, 45, 50):
        assert f"Age {age} years (modelled)" in labels
    assert "vs nan" not in labels


def _editor(v: Visit) -> None:
    v.open("/editor")
    assert "Reading needs no account" in v.page.inner_text("body")


def _most_studied_histology() -> str:
    """From data/: the histology with most studies — the top bar of the dashboard's histology chart."""
    import pandas as pd

    links = pd.read_csv(ROOT / "data/study_histologies.csv", dtype=str)
    names = pd.read_csv(ROOT / "data/histologies.csv", dtype=str).set_index("histology_id")["name"]
    counts = links.groupby("histology_id")["study_id"].nunique().rename("n").reset_index()
    counts["name"] = counts["histology_id"].map(names)
    return counts.sort_values(["n", "name"], ascending=[False, True])["histology_id"].iloc[0]


def _dashboard(v: Visit) -> None:
    v.open("/dashboard")
    assert "Studies by year and design" in v.page.inner_text("body")
    # a click on a bar opens the explorer filtered: the histology chart is the 4th chart, its top bar the largest
    chart = v.page.locator('[data-testid="stVegaLiteChart"]').nth(3)
    chart.scroll_into_view_if_needed()
    chart.locator("svg.marks .mark-rect path").first.wait_for()   # the bars are drawn (and listen to clicks)
    v.page.wait_for_timeout(500)
    box = chart.locator("canvas, svg.marks").first.bounding_box()
    v.page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + 14)
    v.page.wait_for_url(re.compile("/explorer"))
    v.settle()
    assert re.search(rf"histology={_most_studied_histology()}(&|$)", v.page.url)
    # the links under the charts do the same
    v.open("/dashboard")
    v.page.get_by_text("The numbers behind the charts").click()
    link = v.page.get_by_role("link", name=re.compile(r"^Melanoma \(\d+\)$"))
    link.wait_for(state="visible")
    v.click_until_url(link, re.compile(r"/explorer\?histology=melanoma$"))
    v.settle()
    assert "CheckMate 204" in v.table_text()
    v.open("/dashboard")  # back, for the screenshot


def _explorer(v: Visit) -> None:
    v.open("/explorer")
    v.multiselect("Histology or molecular subtype", "Melanoma", "histology=melanoma")
    assert re.search(r"histology=melanoma(&|$)", v.page.url)
    body = v.page.inner_text("body")
    assert re.search(r"\d+ of \d+ studies", body)
    cells = v.table_text()
    assert "CheckMate 204" in cells and "COMBI-MB" in cells and "N0574" not in cells
    # selecting a row (its checkbox, left of the first data row) opens that study below the table
    grid = v.page.locator('[data-testid="stDataFrame"]').first
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")
    v.page.wait_for_timeout(500)
    first_row = grid.locator("table tr").nth(1).text_content()
    box = grid.bounding_box()
    v.page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
    v.page.wait_for_url(re.compile(r"study=\w+"))
    v.settle()
    assert v.page.locator("h4").first.inner_text() in first_row
    v.open("/explorer?histology=melanoma&study=checkmate204")
    assert "CheckMate 204" in v.page.locator("h4").first.inner_text()


def _dosing(v: Visit) -> None:
    v.open("/dosing?diam=2.5")   # a lesion size: schedules that state none stay, marked
    assert re.search(r"\d+ schedules shown state no lesion size", v.page.inner_text("body"))
    assert "not recorded" in v.table_text()
    v.text_input("Schedules to compare", "27 Gy / 3 fx, 3 x 9 Gy", "calc=27")
    assert "not a schedule" not in v.page.inner_text("body")
    v.text_input("Schedules to compare", "25/5", "calc=25")
    calculator = v.page.locator('[data-testid="stDataFrame"]').filter(has_text="25 Gy / 5 fx").first
    cells = calculator.text_content()
    assert "24 Gy / 1 fx" not in cells
    if v.page.viewport_size["width"] >= 1000:  # the grid's text holds only the columns in view
        assert "37.5" in cells


def _toxicity(v: Visit) -> None:
    v.open("/toxicity")
    assert "Lead example: trastuzumab emtansine (T-DM1)" in v.page.inner_text("body")
    v.multiselect("Histology", "Melanoma", "histology=melanoma")
    assert re.search(r"histology=melanoma(&|$)", v.page.url)
    assert re.search(r"\d+ signals", v.page.inner_text("body"))
    # the drug filter finds a drug by its abbreviation or brand
    v.open("/toxicity")
    v.multiselect("Drug", "T-DM1", "drug=trastuzumab_emtansine", option=re.compile(r"^trastuzumab emtansine"))
    assert "trastuzumab emtansine (T-DM1)" in v.table_text()


def _guidelines(v: Visit) -> None:
    v.open("/guidelines")
    v.text_input("Words in the recommendation or population", "memantine", "q=memantine")
    assert re.search(r"\b[1-9]\d* recommendations? from", v.page.inner_text("body"))
    assert "memantine" in v.table_text().lower()


def _imaging(v: Visit) -> None:
    v.open("/imaging")
    v.multiselect("Purpose", "Radionecrosis vs progression", "purpose=rn_vs_progression")
    body = v.page.inner_text("body")
    assert "Sensitivity and specificity" in body
    assert "Detection" not in v.table_text() and "Radionecrosis vs progression" in v.table_text()


def _patient(v: Visit) -> None:
    v.open("/patient?histology=breast_her2pos&mets=3&diameter=2&setting=intact&drug=trastuzumab_emtansine")
    body = v.page.inner_text("body")
    assert "never recommends a treatment" in body and "Stumpf" in body


def _releases(v: Visit) -> None:
    v.open("/releases")
    v.page.get_by_role("button", name="Download the release bundle (zip)").wait_for()
    body = v.page.inner_text("body")
    assert re.search(r"You are reading release \d{4}-\d{2}-\d{2}\.\d{4}-[0-9a-f]{8}", body)
    assert "Download the release bundle (zip)" in body


PAGES = {"home": _home, "sources": _sources, "search": _search, "dashboard": _dashboard, "explorer": _explorer,
         "explorer_eligibility": _explorer_eligibility, "explorer_study": _explorer_study, "dosing": _dosing,
         "toxicity": _toxicity, "guidelines": _guidelines, "imaging": _imaging, "patient": _patient,
         "releases": _releases, "editor": _editor}


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_applies_a_filter_and_looks_right(browser, app_url, artifacts, name, width, height):
    visit = Visit(browser, app_url, width, height)
    try:
        PAGES[name](visit)
        visit.check_clean()
        visit.screenshot(name, width, height)
        problems = browser_look.look(visit.page, phone=width < 600)
        if width >= 1000 and browser_look.show_all_columns(visit.page):
            problems += browser_look.look(visit.page, phone=False)
        visit.check_clean()
        visit.screenshot_full(name, width, height)
        assert not problems, f"{name} at {width}×{height}:\n" + "\n".join(dict.fromkeys(problems))
    except Exception:
        visit.page.screenshot(path=str(ARTIFACTS / f"FAILED_{name}_{width}x{height}.png"))  # what the page showed
        raise
    finally:
        visit.close()


def test_a_shared_link_opened_first_after_start_gets_the_full_app(browser, kb_home, tmp_path):
    # a second server on the same instance, whose very first request is the shared link (any number of
    # processes serve one instance: readers open its releases read-only)
    with serve(kb_home, tmp_path / "streamlit-fresh.log") as url:
        visit = Visit(browser, url, 1440, 900)
        try:
            visit.open("/explorer?histology=melanoma")
            # the first run hands over to app.py with a rerun: wait for the page that rerun draws
            try:
                visit.page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-testid=\"stDataFrame\"]')]"
                    ".some(el => el.textContent.includes('CheckMate 204'))")
            except Exception:
                visit.page.screenshot(path=str(ARTIFACTS / "shared_link_first_failure.png"))
                raise AssertionError("the explorer never showed its melanoma table; page text: "
                                     + visit.page.locator('[data-testid="stApp"]').inner_text()[:1500]
                                     + f"; log: {(tmp_path / 'streamlit-fresh.log').read_text()[-1500:]}")
            visit.settle()
            sidebar = visit.page.locator('[data-testid="stSidebar"]').inner_text()
            assert "Evidence" in sidebar and "Trial explorer" in sidebar
            assert "Research and education tool" in sidebar
            # ...and the page behind the link, with the link's filter applied, not a bare copy of it.
            assert "Trial explorer" in visit.page.locator("h1").first.inner_text()
            cells = visit.table_text()
            assert "CheckMate 204" in cells and "N0574" not in cells
            assert "histology=melanoma" in visit.page.url
            visit.check_clean()
        finally:
            visit.close()


def test_missing_chromium_message_names_the_install_command(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        _require_chromium()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        _require_chromium()
