"""SQL is always parameterized and HTML never allowed: an AST scan of kb/, pages/, ui/ and app.py.

A call to execute / executemany / query / scalar / sql fails the scan when one of its arguments is SQL built by
an f-string, ``%`` formatting or ``str.format`` — directly, concatenated, or through a variable assigned so in the
same function. Identifiers concatenated with ``+`` from code-side whitelists are allowed (values go in as ``?``).
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SQL_CALLS = {"execute", "executemany", "query", "scalar", "sql", "from_query"}
HTML_CALLS = {"html"}  # st.html, components.html


def scanned_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in ("kb", "pages", "ui"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return [f for f in files if f.exists()]


def _is_formatted(node: ast.AST, tainted: set[str]) -> bool:
    """True for an expression that formats values into a string."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)) \
                and isinstance(getattr(node.left, "value", ""), str) or (
                isinstance(node.op, ast.Mod) and _is_formatted(node.left, tainted)):
            return True
        return _is_formatted(node.left, tainted) or _is_formatted(node.right, tainted)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format" and isinstance(node.func.value, (ast.Constant, ast.JoinedStr, ast.Name)):
            return True
        if node.func.attr == "join":  # "…".join(parts): formatted if any part is
            return any(_is_formatted(a, tainted) for a in node.args) or any(
                _is_formatted(g.elt, tainted) for g in node.args if isinstance(g, (ast.GeneratorExp, ast.ListComp)))
    if isinstance(node, ast.Name):
        return node.id in tainted
    if isinstance(node, ast.IfExp):
        return _is_formatted(node.body, tainted) or _is_formatted(node.orelse, tainted)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return _is_formatted(node.elt, tainted)
    return False


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def violations(source: str, filename: str = "<code>") -> list[str]:
    """Every SQL call fed a formatted string, and every use of unsafe_allow_html or st.html, in ``source``."""
    tree = ast.parse(source)
    found: list[str] = []
    scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                      ast.Lambda))]
    for scope in scopes:
        tainted: set[str] = set()
        body = list(ast.walk(scope))
        for _ in range(2):  # names tainted through other names
            for node in body:
                if isinstance(node, ast.Assign) and _is_formatted(node.value, tainted):
                    tainted |= {t.id for t in node.targets if isinstance(t, ast.Name)}
                elif isinstance(node, ast.AnnAssign) and node.value is not None \
                        and isinstance(node.target, ast.Name) and _is_formatted(node.value, tainted):
                    tainted.add(node.target.id)
                elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                        and _is_formatted(node.value, tainted):
                    tainted.add(node.target.id)
        for node in body:
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name in SQL_CALLS:
                args = list(node.args) + [k.value for k in node.keywords if k.arg in ("query", "sql", "sql_query")]
                if any(_is_formatted(a, tainted) for a in args):
                    found.append(f"{filename}:{node.lineno}: SQL built with formatting passed to {name}()")
            if name in HTML_CALLS and isinstance(node.func, ast.Attribute):
                found.append(f"{filename}:{node.lineno}: raw HTML via .{name}()")
            for k in node.keywords:
                if k.arg == "unsafe_allow_html":
                    found.append(f"{filename}:{node.lineno}: unsafe_allow_html")
    return sorted(set(found))


@pytest.mark.parametrize("path", scanned_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_is_built_with_string_formatting_and_no_html_is_allowed(path):
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


def test_the_scan_covers_the_app_the_core_the_pages_and_the_ui():
    names = {str(p.relative_to(ROOT)) for p in scanned_files()}
    assert {"app.py", "kb/edits/apply.py", "kb/queries.py", "pages/editor.py", "ui/cache.py"} <= names


BAD = {
    "f-string": 'con.execute(f"SELECT * FROM t WHERE id = {x}")',
    "percent": 'cur.execute("SELECT * FROM t WHERE id = %s" % x)',
    "format": 'con.sql("SELECT * FROM t WHERE id = {}".format(x))',
    "kb.db.query": 'query(con, f"SELECT {col} FROM t")',
    "concatenated f-string": 'con.execute("SELECT * FROM t " + f"WHERE id = {x}")',
    "through a variable": 'sql = f"SELECT * FROM t WHERE id = {x}"\ncon.execute(sql)',
    "augmented": 'sql = "SELECT * FROM t"\nsql += f" WHERE id = {x}"\ncon.execute(sql, [])',
    "two variables": 'where = f"id = {x}"\nsql = "SELECT * FROM t WHERE " + where\nscalar(con, sql)',
    "in a function": 'def f(x):\n    q = "SELECT %d" % x\n    return con.execute(q)',
    "keyword": 'con.execute(query=f"SELECT {x}")',
    "joined": 'con.execute(" AND ".join(f"{c} = {v}" for c, v in pairs))',
    "unsafe html": 'st.markdown(text, unsafe_allow_html=True)',
    "st.html": 'st.html(text)',
}
GOOD = {
    "parameter": 'con.execute("SELECT * FROM t WHERE id = ?", [x])',
    "whitelisted identifier": 'con.execute("SELECT " + q(col) + " FROM " + q(table) + " WHERE id = ?", [x])',
    "placeholders joined": 'con.execute("INSERT INTO t VALUES (" + ", ".join("?" * n) + ")", row)',
    "f-string elsewhere": 'msg = f"unknown {x}"\nraise ValueError(msg)',
    "f-string parameter value": 'con.execute("SELECT * FROM t WHERE name ILIKE ?", [f"%{x}%"])',
}


@pytest.mark.parametrize("code", BAD.values(), ids=BAD.keys())
def test_the_scan_catches_formatted_sql_and_raw_html(code):
    assert violations(textwrap.dedent(code)) != []


@pytest.mark.parametrize("code", GOOD.values(), ids=GOOD.keys())
def test_the_scan_allows_parameters_and_whitelisted_identifiers(code):
    assert violations(textwrap.dedent(code)) == []
