"""A build's outputs: checked before the work, written whole, placed together, journaled.

What the station promises about a finished dossier is decided here, so it is kept in one place:

- before any page is read: ``-o`` is a folder we can write (not a file, not under a file, not
  inside the folder of pages being built), the folder is locked against a second build, files
  left by a killed build are cleared, and the custody journal is open, intact and writable;
- every output (volumes, report, set-aside copies) is written by :mod:`dossier_station.core.files`
  to a temporary inside the build's hidden work folder, verified, and hashed as it is on disk;
- the journal records the intent, the files are placed together (the report last: it marks a
  finished build), the journal records them as done — and if that record fails, the placing is
  undone (files they replaced come back), so no dossier is left in place unjournaled;
- SIGTERM unwinds like Ctrl-C (temporaries removed); after SIGKILL, the next build in the folder
  clears what the dead process left.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError, InputFileError, OutputError
from dossier_station.core.files import (
    AtomicOutput,
    HashMismatchError,
    copy_hashed,
    copy_output,
    describe_os_error,
    remove_stale_temporaries,
    sha256_file,
)
from dossier_station.core.locking import check_output_folder, folder_lock


def refuse_output_inside_pages(out_dir: Path, page_folders: set[Path]) -> None:
    """``-o`` inside the folder of pages being built would feed the dossier into the next build."""
    out = out_dir.resolve()
    for folder in page_folders:
        folder = folder.resolve()
        if out == folder or folder in out.parents:
            raise BadArgsError(
                f"{out_dir}: the output folder is inside the folder of pages being built ({folder})",
                hint="choose an output folder outside it, e.g. beside it: -o " + str(folder.parent / (folder.name + "-dossier")),
            )


def _open_journal():  # type: ignore[no-untyped-def]
    """The custody journal, checked now — before minutes of OCR, not after."""
    from dossier_station.core.journal import Journal

    journal = Journal()
    try:
        if hasattr(journal, "check"):
            journal.check()
        else:  # an older journal: a trivial query still proves it opens and reads
            journal.recent(1)
    except BaseException:
        journal.close()
        raise
    return journal


DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class _Terminated(SystemExit):
    """SIGTERM turned into an exception so that every ``with`` block unwinds (temporaries go)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated(128 + signum)


class BuildSession:
    """``with BuildSession(out_dir) as s:`` — the build's outputs, from check to journal.

    ``s.work`` is the hidden work folder; ``s.output(path, verify)`` a verified temporary for
    an output; ``s.commit(events)`` journals and places everything together.
    """

    def __init__(self, out_dir: Path, *, page_folders: set[Path] | None = None, what: str = "build") -> None:
        self.out_dir = Path(out_dir)
        self.page_folders = page_folders or set()
        self.what = what
        self.outputs: list[AtomicOutput] = []
        self.report_output: AtomicOutput | None = None
        self.work = Path()
        self._stack = contextlib.ExitStack()
        self.journal = None

    def __enter__(self) -> BuildSession:
        check_output_folder(self.out_dir)
        refuse_output_inside_pages(self.out_dir, self.page_folders)
        stack = self._stack
        try:
            stack.enter_context(folder_lock(self.out_dir, self.what))
            for folder in (self.out_dir, self.out_dir / "set-aside"):
                remove_stale_temporaries(folder)
            try:
                self.work = Path(tempfile.mkdtemp(prefix=f".work-{os.getpid()}-", dir=self.out_dir))
            except OSError as exc:
                raise describe_os_error(exc, self.out_dir) from None
            stack.callback(shutil.rmtree, self.work, True)
            self.journal = _open_journal()
            stack.callback(self.journal.close)
            # Unless the caller (a daemon) already handles SIGTERM its own way.
            if _main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                previous = signal.signal(signal.SIGTERM, _on_sigterm)
                stack.callback(signal.signal, signal.SIGTERM, previous)
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        for out in [*self.outputs, *([self.report_output] if self.report_output else [])]:
            out.discard()
        self._stack.close()
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
            # e.g. the page stage's work files on a disk that filled up during OCR
            raise describe_os_error(exc, Path(exc.filename) if exc.filename else self.out_dir) from exc

    # ---- outputs -------------------------------------------------------------------------
    def output(self, final: Path) -> AtomicOutput:
        """A temporary for ``final`` in the work folder, verified and placed at :meth:`commit`."""
        out = AtomicOutput(final, place=False, tmp_dir=self.work)
        self.outputs.append(out)
        return out

    def write_report(self, final: Path, report: dict[str, Any]) -> AtomicOutput:
        """The build report, JSON read back before it counts; placed after everything else."""
        data = json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8")

        def check(tmp: Path) -> None:
            if tmp.read_bytes() != data:
                raise OutputError(f"{final}: the report on disk differs from the report written", hint="check the disk")
            json.loads(data)

        out = AtomicOutput(final, verify=check, place=False, tmp_dir=self.work)
        with out as tmp, open(tmp, "wb") as f:
            f.write(data)
        self.report_output = out
        return out

    def set_aside(self, source: Path, final: Path, sha256: str) -> None:
        """A page kept out of the dossier, copied as it was hashed (or the build stops)."""
        try:
            out = copy_output(source, final, expected_sha256=sha256, tmp_dir=self.work)
        except HashMismatchError as exc:
            raise InputFileError(
                f"{source}: the file changed during the build (its SHA-256 is no longer the one recorded)",
                hint="leave the input pages alone while a build runs, then build again",
            ) from exc
        self.outputs.append(out)

    def sha256(self, final: Path) -> str:
        """The hash of the verified bytes that will be at ``final``."""
        for out in self.outputs:
            if out.final == final and out.result is not None:
                return out.result.sha256
        raise KeyError(final)

    def embed_hashed_bytes(self, outcomes: list[Any]) -> None:
        """Make the volumes embed exactly the bytes that were hashed as evidence.

        An image passed through unchanged (a JPEG scan) would otherwise be read a second time
        from the input folder when the volume is written: it is copied into the work folder
        now, and the copy must hash to the recorded SHA-256. Pages encoded from their pixels
        are checked too: their source must still have the hash it had when it was read.
        """
        checked: dict[str, str] = {}
        for n, o in enumerate(outcomes, start=1):
            src = Path(o.source)
            if o.source not in checked:
                checked[o.source] = sha256_file(src) if src.exists() else ""
            if checked[o.source] != o.sha256:
                raise InputFileError(
                    f"{src}: the file changed during the build (its SHA-256 is no longer the one recorded)",
                    hint="leave the input pages alone while a build runs, then build again",
                )
            spec = o.spec
            if spec is None or spec.image.data_path.resolve() != src.resolve():
                continue
            copy = self.work / f"{n:05d}.evidence{src.suffix}"
            try:
                copy_hashed(src, copy, o.sha256)
            except HashMismatchError as exc:
                raise InputFileError(
                    f"{src}: the file changed during the build (its SHA-256 is no longer the one recorded)",
                    hint="leave the input pages alone while a build runs, then build again",
                ) from exc
            o.spec = replace(spec, image=replace(spec.image, data_path=copy))

    # ---- placing -------------------------------------------------------------------------
    def commit(self, events: list[tuple[str, str, str | None, dict[str, Any]]]) -> None:
        """Record intent, place every output together (report last), record done.

        If the done record fails (journal locked, disk full, Ctrl-C), the placing is undone.
        """
        from dossier_station.core.files import place_all

        outputs = [o for o in self.outputs if o.result is not None]
        if self.report_output is not None:
            outputs.append(self.report_output)
        journal = self.journal
        assert journal is not None
        planned = [{"file": str(o.final.resolve()), "sha256": o.result.sha256} for o in outputs if o.result]
        journal.record("build-intent", str(self.out_dir.resolve()), None, files=planned)
        placement = place_all(outputs, hold=True)
        try:
            if hasattr(journal, "record_many"):
                journal.record_many(events)
            else:
                for kind, subject, sha, detail in events:
                    journal.record(kind, subject, sha, **detail)
        except BaseException:
            placement.undo()
            raise
        placement.commit()
        self.outputs = []
        self.report_output = None


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
