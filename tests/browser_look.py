"""What a reader sees, checked in a real browser: no "nan"/"None", no raw markup, no link to …/nan, charts as wide
as their column, no sideways scrolling on a phone.

How the tables are read: Streamlit's tables are glide-data-grid canvases. Their accessible copy (an aria table in
the DOM) holds only the cells in view and leaves a missing value's cell empty, so it cannot show what the canvas
draws there (Streamlit's default is the word "None"). So each page gets an init script that records every string
drawn with ``CanvasRenderingContext2D.fillText`` — exactly the pixels' text — and each grid is scrolled through,
right and down, so every cell is drawn once. Charts are Vega SVG: their ``<text>`` elements are read from the DOM.
"""

from __future__ import annotations

import re

# Recorded before any page script runs; glide-data-grid draws every cell and header with fillText.
RECORD_CANVAS_TEXT = """
window.__drawnText = new Set();
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  try { window.__drawnText.add(String(text)); } catch (e) {}
  return fillText.call(this, text, ...rest);
};
"""

# A missing value leaking through as a word, anywhere a reader can see it.
LEAKED_MISSING = re.compile(r"(?<![\w-])(nan|NaN|None|null|undefined|NaT|<NA>)(?![\w-])")
RAW_MARKUP = re.compile(r":[a-z]+-badge\[|:material/[a-z_]+:?")
DEAD_LINK = re.compile(r"/(nan|None|null|undefined)/?$", re.IGNORECASE)

SCAN_GRID = """
async (grid, readCells) => {
  // The grid renders only the rows in the window, so bring all of it into the window first, then scroll it right
  // and down so that every cell is drawn. The canvas is redrawn on the next frame after a scroll; the accessible
  // copy (read when readCells) follows a little later, so then each step waits until that copy has changed.
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const cellsNow = () => [...grid.querySelectorAll('table [role="gridcell"], table [role="columnheader"]')];
  const snapshot = () => cellsNow().map(c => c.getAttribute('aria-colindex') + ':' + c.textContent).join('|');
  const cells = new Set();
  const read = () => cellsNow().forEach(c => cells.add(c.textContent));
  const settle = async (before, limit = 1000) => {
    for (let waited = 0; waited < limit; waited += 50) {
      await sleep(50);
      const now = snapshot();
      if (now && now !== before) { await sleep(50); return; }
    }
  };
  grid.scrollIntoView({block: 'start'});
  await settle('', 8000);  // a grid that has just come into view can take seconds to draw on a loaded machine
  read();
  const scroller = grid.querySelector('.dvn-scroller');
  if (!scroller) return [...cells];
  const stepX = Math.max(50, scroller.clientWidth * 0.8), stepY = Math.max(50, scroller.clientHeight * 0.8);
  for (let y = 0; ; y += stepY) {
    for (let x = 0; ; x += stepX) {
      if (x > 0 || y > 0) {
        const before = readCells ? snapshot() : '';
        scroller.scrollTo(x, y);
        if (readCells) { await settle(before); read(); } else { await frames(); }
      }
      if (x + scroller.clientWidth >= scroller.scrollWidth) break;
    }
    if (y + scroller.clientHeight >= scroller.scrollHeight) break;
  }
  if (scroller.scrollLeft || scroller.scrollTop) {
    const before = snapshot();
    scroller.scrollTo(0, 0);
    await settle(before);
  }
  return [...cells];
}
"""

CHART_WIDTHS = """
() => {
 // a chart is named by the text just above it on the page (its heading or caption)
 const title = el => {
   let box = el.closest('[data-testid="stElementContainer"]') || el;
   for (let prev = box.previousElementSibling; prev; prev = prev.previousElementSibling) {
     const text = prev.textContent.trim();
     if (text) return text.slice(0, 60);
   }
   return '';
 };
 return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map(el => {
  const chart = el.querySelector('svg.marks, canvas.marks, canvas');
  const column = el.closest('[data-testid="stVerticalBlock"]') || el.parentElement;
  const box = el.getBoundingClientRect();
  if (!chart || box.width === 0 || el.offsetParent === null) return null;   // in a closed tab or expander
  // how far right anything is drawn (labels, legends, marks), measured on the screen against the chart's box
  const left = chart.getBoundingClientRect().left;
  const rights = [...chart.querySelectorAll('text, path, rect, line')].map(n => n.getBoundingClientRect())
    .filter(r => r.width > 0 || r.height > 0).map(r => r.right - left);
  return {column: column.getBoundingClientRect().width, chart: chart.getBoundingClientRect().width,
          content_right: Math.max(0, ...rights), label: title(el)};
}).filter(Boolean);
}
"""

SIDEWAYS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
  const doc = document.documentElement;
  return {doc: doc.scrollWidth - doc.clientWidth, main: main.scrollWidth - main.clientWidth};
}
"""


def show_all_columns(page) -> int:
    """Switch on every visible "All columns" toggle (one rerun each); returns how many."""
    count = 0
    toggles = page.locator('[data-testid="stCheckbox"]').filter(has_text=re.compile(r"^All columns \(\d+\)$"))
    for i in range(toggles.count()):
        toggle = toggles.nth(i)
        if toggle.is_visible():
            toggle.locator("label").click()
            count += 1
            page.wait_for_timeout(300)
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"stApp\"]')"
                ".getAttribute('data-test-script-state') === 'notRunning'")
            page.wait_for_timeout(300)
    return count


def look(page, phone: bool) -> list[str]:
    """Every defect a reader would see on the page as it is now, in words (empty when it looks right)."""
    problems: list[str] = []
    grids = page.locator('[data-testid="stDataFrame"]')
    grid_text: list[str] = []
    for i in range(grids.count()):
        grid = grids.nth(i)
        if grid.is_visible():
            grid_text += grid.evaluate(SCAN_GRID, False)
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    for i in range(charts.count()):  # charts draw when they come into view
        if charts.nth(i).is_visible():
            charts.nth(i).scroll_into_view_if_needed()
    drawn = page.evaluate("() => [...(window.__drawnText || [])]")
    visible = page.locator('[data-testid="stApp"]').inner_text()
    chart_text = page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg text')]"
                               ".map(t => t.textContent)")

    for where, texts in (("page text", [visible]), ("table cell (drawn)", drawn), ("table cell (DOM)", grid_text),
                         ("chart label", chart_text)):
        for text in texts:
            for match in LEAKED_MISSING.finditer(text):
                context = text[max(0, match.start() - 60):match.end() + 40]
                problems.append(f"{where} shows {match.group()!r}: …{context}…")
            for match in RAW_MARKUP.finditer(text):
                context = text[max(0, match.start() - 40):match.end() + 40]
                problems.append(f"{where} shows raw markup {match.group()!r}: …{context}…")
    if "" in grid_text and "not reported or not verified" not in visible:  # an empty cell is a missing value
        problems.append("a table has empty cells but the page does not say what they mean")

    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    for href in hrefs + [t for t in grid_text if t.startswith(("http://", "https://", "/"))]:  # link cells
        if DEAD_LINK.search(href.split("?")[0].split("#")[0]):
            problems.append(f"link to a missing identifier: {href}")

    for chart in page.evaluate(CHART_WIDTHS):
        if chart["chart"] < 0.9 * chart["column"]:
            problems.append(f"chart {chart['label']!r} is {chart['chart']:.0f} px wide in a {chart['column']:.0f} px "
                            "column (under 90%)")
        if chart["content_right"] > chart["chart"] + 2:
            problems.append(f"chart {chart['label']!r} draws to {chart['content_right']:.0f} px in a "
                            f"{chart['chart']:.0f} px box (cut off)")

    if phone:
        overflow = page.evaluate(SIDEWAYS)
        if overflow["doc"] > 1 or overflow["main"] > 1:
            problems.append(f"the page scrolls sideways on a phone by {max(overflow.values())} px")
    return problems
