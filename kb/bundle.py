"""A release bundle: everything a paper needs to cite and reuse one exact version of the KB, in one folder.

``python -m kb release [--out DIR]`` writes ``DIR/brainmets-kb-<release id>/``:

- ``brainmets-kb-<release id>.duckdb``: the release itself (open it with DuckDB, or pin readers to it with KB_DB);
- ``parquet/<table>.parquet``: one Parquet file per table (DuckDB, pandas, R and Spark read them, also over HTTP/S3);
- ``csv/<table>.csv``: the same tables as CSV, written the way data/ is;
- ``sources.csl.json``: the bibliography as CSL-JSON (Zotero, citeproc), stamped with the release id;
- ``manifest.json``: the release id, its date, row counts, the content hash of every table (the algorithm of
  ``kb.releases.table_hash``) and the SHA-256 of every file above.

The app offers the same folder as a zip (``bundle_zip``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import duckdb

from kb import citations
from kb.config import TABLES
from kb.releases import NoRelease, content_hash, open_release, reader_path, table_hash

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM kb_meta").fetchall())


def write_bundle(release_path: Path, out_dir: Path) -> Path:
    """Write the bundle of the release file ``release_path`` under ``out_dir``; returns the bundle folder.
    Written under a temporary name and renamed, so a half-written bundle never has the final name."""
    from kb.edits import format_value

    con = open_release(release_path)
    try:
        meta = _meta(con)
        release_id = meta.get("release_id", Path(release_path).stem)
        name = f"brainmets-kb-{release_id}"
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / name
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir))
        try:
            (work / "parquet").mkdir()
            (work / "csv").mkdir()
            shutil.copyfile(release_path, work / f"{name}.duckdb")   # immutable and checkpointed: a plain copy
            counts, hashes = {}, {}
            for table in TABLES:
                con.execute("COPY (SELECT * FROM \"" + table + "\") TO '"
                            + str(work / "parquet" / f"{table}.parquet").replace("'", "''") + "' (FORMAT parquet)")
                result = con.execute("SELECT * FROM \"" + table + "\"")
                header = [d[0] for d in result.description]
                rows = result.fetchall()
                counts[table] = len(rows)
                hashes[table] = table_hash(con, table)
                with open(work / "csv" / f"{table}.csv", "w", encoding="utf-8", newline="") as handle:
                    writer = csv.writer(handle, lineterminator="\n")
                    writer.writerow(header)
                    writer.writerows([format_value(v) for v in row] for row in rows)
            sources = con.execute("SELECT * FROM sources ORDER BY source_id").df().to_dict("records")
            (work / "sources.csl.json").write_text(citations.to_csl_json(sources, release_id=release_id),
                                                   encoding="utf-8")
            files = {str(p.relative_to(work)): sha256_file(p) for p in sorted(work.rglob("*")) if p.is_file()}
            manifest = {"release_id": release_id, "published_at": meta.get("published_at"),
                        "data_release": meta.get("release"), "content_sha256": content_hash(con),
                        "tables": {t: {"rows": counts[t], "sha256": hashes[t]} for t in TABLES}, "files": files}
            (work / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            work.rename(target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    finally:
        con.close()
    return target


def bundle_zip(release_path: Path) -> bytes:
    """The bundle of a release as the bytes of a zip file (for a download button)."""
    with tempfile.TemporaryDirectory(prefix="kb-bundle-") as tmp:
        folder = write_bundle(Path(release_path), Path(tmp))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, str(Path(folder.name) / path.relative_to(folder)))
        return buffer.getvalue()


def verify(folder: Path) -> list[str]:
    """Problems with a bundle folder: a file missing or whose SHA-256 differs from the manifest. [] when intact."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    problems = []
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.exists():
            problems.append(f"{name} is missing")
        elif sha256_file(path) != expected:
            problems.append(f"{name} differs from the manifest")
    return problems


# ------------------------------------------------------------------------------------------------ command line
def cmd_release(args: argparse.Namespace) -> int:
    try:
        path = Path(args.db) if args.db else reader_path()
    except NoRelease as exc:
        print(exc, file=sys.stderr)
        return 1
    folder = write_bundle(path, Path(args.out))
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    print(f"Wrote {folder}: release {manifest['release_id']}, {rows} rows in {len(manifest['tables'])} tables, "
          f"{len(manifest['files'])} files listed with their SHA-256 in {MANIFEST}.")
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="write the current release as a bundle: DuckDB file, Parquet, CSV, "
                                       "CSL-JSON sources and a manifest with checksums")
    p.add_argument("--out", default="releases-out", help="folder to write the bundle into (default: releases-out/)")
    p.add_argument("--db", help="a KB file to bundle (default: $KB_DB, else the current release)")
    p.set_defaults(func=cmd_release)
