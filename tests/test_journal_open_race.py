"""Several processes opening a new journal at the same moment (watch workers, a build, the UI)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path


def _open_and_record(path: str, start, n: int) -> None:  # type: ignore[no-untyped-def]
    from dossier_station.core.journal import Journal

    start.wait(10)
    j = Journal(Path(path))
    j.record("captured", f"page-{n}", "0" * 64)
    j.close()


def test_processes_opening_a_new_journal_together_all_record_and_the_chain_holds(tmp_path: Path):
    from dossier_station.core.journal import Journal

    ctx = multiprocessing.get_context("spawn")
    for trial in range(3):
        path = tmp_path / f"j{trial}.sqlite3"
        start = ctx.Event()
        procs = [ctx.Process(target=_open_and_record, args=(str(path), start, i)) for i in range(4)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        j = Journal(path, create=False)
        result = j.verify()
        assert result.ok and result.entries == 4
        j.close()
