"""Run the app as real servers and read its pages headlessly, for the multi-process tests and benchmarks.

``serve`` starts ``streamlit run app.py`` in a subprocess on a free port (an editor instance, or a reader with
``KB_READ_ONLY=1``) and waits for its health check. ``Reader`` is a headless browser tab: it speaks Streamlit's
own websocket protocol (the BackMsg / ForwardMsg protobufs the frontend uses), asks for a page run and collects the
Markdown the page sends, until the run finishes — so a test can read the footer of a reader process, and a
benchmark can time reruns, without starting chromium.

    with serve({"KB_HOME": home}, log) as url:
        with Reader(url) as tab:
            run = tab.run("sources")
            print(run.seconds, footer_release_id(run.texts))
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
FOOTER = re.compile(r"BrainMets KB release (\S+) ·")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(env: dict[str, str | None], log_path: Path, timeout_s: float = 90) -> Iterator[str]:
    """``streamlit run app.py`` with ``env`` added to this process's environment (a None value removes a
    variable); yields the base URL once the server answers its health check; stops the server afterwards."""
    port = free_port()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key, value in env.items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = str(value)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, timeout_s, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start; see {log_path}")
        time.sleep(0.2)


@dataclass
class PageRun:
    seconds: float
    texts: list[str] = field(default_factory=list)   # Markdown, caption, text, alert bodies; 'label: value' metrics

    @property
    def release_id(self) -> str | None:
        return footer_release_id(self.texts)


def footer_release_id(texts: list[str]) -> str | None:
    """The release id in the page footer ('BrainMets KB release <id> · …'), or None."""
    for text in reversed(texts):
        match = FOOTER.search(text)
        if match:
            return match.group(1)
    return None


class Reader:
    """One session of the app over its websocket (what a browser tab is to the server)."""

    def __init__(self, url: str, timeout_s: float = 60):
        self.url = url
        self.timeout_s = timeout_s
        self._ws = None

    def __enter__(self) -> "Reader":
        from websockets.sync.client import connect

        self._connection = connect(self.url.replace("http", "ws", 1) + "/_stcore/stream",
                                   subprotocols=["streamlit"], open_timeout=self.timeout_s, max_size=None)
        self._ws = self._connection.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._ws is not None:
            self._connection.__exit__(*exc)
            self._ws = None

    def run(self, page: str = "", query: str = "") -> PageRun:
        """Run ``page`` (its url_path in app.py; '' for Home) with ``query`` ('study=n0574') and wait until the
        script finished. Returns how long that took and what Markdown the page sent."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = BackMsg()
        message.rerun_script.query_string = query
        message.rerun_script.page_name = page
        started = time.perf_counter()
        self._ws.send(message.SerializeToString())
        texts: list[str] = []
        deadline = time.monotonic() + self.timeout_s
        while True:
            raw = self._ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            forward = ForwardMsg()
            forward.ParseFromString(raw)
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                shown = element.WhichOneof("type")
                if shown in ("markdown", "text", "alert"):   # st.markdown / caption, st.text, st.info / error …
                    texts.append(getattr(element, shown).body)
                elif shown == "metric":
                    texts.append(f"{element.metric.label}: {element.metric.body}")
            elif kind == "script_finished":
                if forward.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    texts = []   # the page asked for a rerun (st.rerun): its elements come in the next run
                    continue
                return PageRun(time.perf_counter() - started, texts)
