"""Read what a download button delivers in AppTest, whether its bytes were made at once or on click (deferred).

Pages hand ``st.download_button`` a callable, so a CSV is only written when a reader clicks; here the click is
what the browser would ask the server for: ``MediaFileManager.execute_deferred``.
"""

from __future__ import annotations

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test


@pytest.fixture
def downloaded(monkeypatch):
    """``downloaded(at, key_or_label) -> bytes`` for the download button with that key (or label);
    ``downloaded.file(at, key_or_label)`` is the whole file, with its ``filename``."""
    storages: list[MemoryMediaFileStorage] = []
    managers: list[MediaFileManager] = []

    class RecordingStorage(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            storages.append(self)

    class RecordingManager(MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)
    monkeypatch.setattr(app_test, "MediaFileManager", RecordingManager)

    def file(at: AppTest, key: str):
        """The file the button delivers (``.content`` bytes, ``.filename``)."""
        button = next(b for b in at.get("download_button") if key in b.id or b.proto.label == key)
        url = (managers[-1].execute_deferred(button.proto.deferred_file_id) if button.proto.deferred_file_id
               else button.proto.url)
        return storages[-1].get_file(url.rsplit("/", 1)[-1])

    def read(at: AppTest, key: str) -> bytes:
        return file(at, key).content

    read.file = file
    return read
