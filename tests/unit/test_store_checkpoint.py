"""WAL checkpoints run on the store's own thread (store.checkpoint), not inside a request's
commit: committed pages reach the database file soon after the writes, well below the store
connection's own (backstop) checkpoint mark, and closing the store ends the thread."""

import threading
import time

from batchemu.store import Store, checkpoint


def _threads():
    return [t for t in threading.enumerate() if t.name == "batchemu-checkpoint"]


def test_committed_pages_reach_the_database_file_without_a_request_checkpointing(tmp_path):
    before = len(_threads())
    path = tmp_path / "db.sqlite3"
    store = Store(str(path))
    try:
        assert len(_threads()) == before + 1
        size = path.stat().st_size
        pages = 200  # far below the backstop mark: the store connection would not checkpoint
        assert pages < checkpoint.BACKSTOP_PAGES
        for i in range(pages):
            store.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{i}", "x" * 4000))
        deadline = time.monotonic() + 10
        while path.stat().st_size < size + pages * 4000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= size + pages * 4000
    finally:
        store.close()
    assert len(_threads()) == before
    again = Store(str(path))
    try:
        assert again.query("SELECT COUNT(*) AS n FROM meta WHERE key LIKE 'k%'")[0]["n"] == pages
    finally:
        again.close()


def test_a_memory_store_has_no_checkpoint_thread():
    before = len(_threads())
    store = Store()
    assert len(_threads()) == before
    store.close()
