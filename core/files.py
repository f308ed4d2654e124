"""Writing outputs so that a file the station calls finished is whole, and is the file it names.

One helper for the whole station (volumes, reports, set-aside copies, separator sheets, capture
and signature packages, signed files, transfer packages): write to a temporary name in the same
folder, flush and fsync, **verify** what is on disk, hash the bytes as they are on disk, and only
then rename over the final name and fsync the folder. A write that fails (a full disk, a
read-only filesystem, a killed process) or a file that fails verification never replaces an
existing good file, and never leaves a finished-looking file behind: temporaries are hidden
(``.name.<pid>.tmp``) and removed on failure.

Why verify after writing: programs such as qpdf can exit 0 when their write failed on a full
disk, and a filesystem can accept a short write. Reading the bytes back is the only proof.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dossier_station.core.errors import FileAccessError, OutputError

CHUNK = 1 << 20
TMP_SUFFIX = ".tmp"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes as they are on disk, read in 1 MiB chunks (no whole-file copy)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable (POSIX: the folder entry is data too)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # platforms without directory fds (Windows): nothing more can be done
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(final: Path) -> Path:
    """The hidden temporary beside ``final``: same folder (so rename is atomic), unique per process."""
    return final.with_name(f".{final.name}.{os.getpid()}{TMP_SUFFIX}")


def describe_os_error(exc: OSError, path: Path) -> OutputError | FileAccessError:
    """A clerk-readable error for a failed write: what happened to which file, and what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(
            f"{path}: the disk is full; the file was not written",
            hint="free space on that disk or choose another output folder; nothing was replaced",
        )
    if exc.errno == errno.EROFS:
        return FileAccessError(f"{path}: the filesystem is read-only", hint="choose an output folder on a writable disk")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FileAccessError(f"{path}: no permission to write here", hint="choose a folder you may write to, or fix its permissions")
    if exc.errno == errno.ENOTDIR:
        return FileAccessError(f"{path}: a part of this path is a file, not a folder", hint="choose an output folder path")
    if exc.errno == errno.EISDIR:
        return FileAccessError(f"{path}: is a folder, not a file", hint="give a file name, not a folder")
    return FileAccessError(f"{path}: cannot write ({exc.strerror or exc})", hint="check the disk and the folder")


@dataclass
class WrittenFile:
    """What was put in place: the final path, and the hash and size of the bytes on disk."""

    path: Path
    sha256: str
    size: int


class AtomicOutput:
    """Context manager: ``with AtomicOutput(final, verify=check) as tmp: <write tmp>``.

    On a clean exit the temporary is fsynced, ``verify(tmp)`` is called (raise to refuse it),
    hashed, renamed over ``final`` and the folder fsynced; ``.result`` then holds the hash of
    exactly the bytes now at ``final``. On any exception the temporary is removed and an
    existing ``final`` is left untouched. ``place=False`` keeps the verified temporary for a
    caller that places several files together (see :func:`place_all`).
    """

    def __init__(
        self, final: str | os.PathLike[str], *, verify: Callable[[Path], None] | None = None, place: bool = True
    ) -> None:
        self.final = Path(final)
        self.tmp = temp_name(self.final)
        self.verify = verify
        self.place = place
        self.result: WrittenFile | None = None

    def __enter__(self) -> Path:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise describe_os_error(exc, self.final.parent) from None
        if self.final.is_dir():
            raise FileAccessError(f"{self.final}: is a folder, not a file", hint="give a file name, not a folder")
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        if exc_type is not None:
            discard(self.tmp)
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                raise describe_os_error(exc, self.final) from exc
            return False
        try:
            if not self.tmp.exists():
                raise OutputError(f"{self.final}: nothing was written", hint="this is a bug; please report it")
            _fsync_file(self.tmp)
            if self.verify is not None:
                self.verify(self.tmp)
            self.result = WrittenFile(self.final, sha256_file(self.tmp), self.tmp.stat().st_size)
            if self.place:
                os.replace(self.tmp, self.final)
                fsync_dir(self.final.parent)
        except OSError as exc:
            discard(self.tmp)
            raise describe_os_error(exc, self.final) from exc
        except BaseException:
            discard(self.tmp)
            raise
        return False


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def write_bytes_atomic(
    final: str | os.PathLike[str], data: bytes, *, verify: Callable[[Path], None] | None = None
) -> WrittenFile:
    """Write ``data`` to ``final`` atomically; the bytes read back must be the bytes given."""

    def check(tmp: Path) -> None:
        if tmp.stat().st_size != len(data) or sha256_file(tmp) != sha256_bytes(data):
            raise OutputError(f"{final}: the bytes on disk differ from the bytes written", hint="check the disk")
        if verify is not None:
            verify(tmp)

    out = AtomicOutput(final, verify=check)
    with out as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
    assert out.result is not None
    return out.result


def write_json_atomic(final: str | os.PathLike[str], value: Any) -> WrittenFile:
    """JSON (UTF-8, keys as given) written atomically and read back as JSON before it is placed."""
    data = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")

    def check(tmp: Path) -> None:
        json.loads(tmp.read_bytes())

    return write_bytes_atomic(final, data, verify=check)


def copy_atomic(src: str | os.PathLike[str], final: str | os.PathLike[str], *, expected_sha256: str | None = None) -> WrittenFile:
    """Copy a file so the copy is whole and, when given, has the hash the journal names."""
    out = AtomicOutput(final)
    with out as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
    assert out.result is not None
    if expected_sha256 and out.result.sha256 != expected_sha256:
        discard(Path(final))
        raise OutputError(
            f"{final}: the copy's SHA-256 is not that of {src}",
            hint="the source changed or the disk is failing; nothing was kept",
        )
    return out.result


def place_all(outputs: list[AtomicOutput]) -> None:
    """Rename a set of verified temporaries (``place=False``) into place together.

    A build's volumes appear together or not at all: every file was written and verified before
    the first rename, and if a rename fails the ones already placed are rolled back.
    """
    placed: list[AtomicOutput] = []
    try:
        for out in outputs:
            os.replace(out.tmp, out.final)
            placed.append(out)
        for parent in {o.final.parent for o in outputs}:
            fsync_dir(parent)
    except OSError as exc:
        for out in placed:
            discard(out.final)
        for out in outputs:
            discard(out.tmp)
        raise describe_os_error(exc, outputs[len(placed)].final) from exc


@contextlib.contextmanager
def cleanup_on_error(paths: list[Path]) -> Iterator[None]:
    """Remove the given temporaries if the block fails (used around multi-file outputs)."""
    try:
        yield
    except BaseException:
        for p in paths:
            discard(p)
        raise
