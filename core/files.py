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
import shutil
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


def temp_name(final: Path, tmp_dir: Path | None = None) -> Path:
    """The hidden temporary for ``final``: unique per process, on the same filesystem (so the
    rename is atomic) — beside ``final``, or in ``tmp_dir`` (a build's own hidden work folder,
    so that a killed build leaves one hidden folder, not files that look finished)."""
    return (tmp_dir or final.parent) / f".{final.name}.{os.getpid()}{TMP_SUFFIX}"


def pid_of_temporary(name: str) -> int | None:
    """The process id in a temporary's name (``.x.pdf.<pid>.tmp``, ``.work-<pid>-…``), else None."""
    if name.endswith(TMP_SUFFIX):
        part = name[: -len(TMP_SUFFIX)].rpartition(".")[2]
    elif name.startswith(".work-"):
        part = name[len(".work-") :].partition("-")[0]
    else:
        return None
    return int(part) if part.isdigit() else None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. A killed process its parent has not yet reaped (a
    zombie) does not: it can write nothing more, and whoever waits on it should not wait."""
    with contextlib.suppress(OSError, IndexError):  # /proc: Linux; elsewhere the signal test
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove hidden temporaries and work folders left in ``folder`` by processes that died
    (SIGKILL, power loss). Call it while holding the folder's lock; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        pid = pid_of_temporary(entry.name)
        if pid is None or pid == os.getpid() or process_alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            discard(entry)
        removed.append(entry)
    return removed


def disk_full(path: Path) -> bool:
    """True when the filesystem holding ``path`` has (next to) no room left."""
    try:
        return shutil.disk_usage(path).free < 256 * 1024
    except OSError:
        return False


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


class HashMismatchError(OutputError):
    """A copy does not hash to the SHA-256 recorded for its source: the source changed."""


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
        self,
        final: str | os.PathLike[str],
        *,
        verify: Callable[[Path], None] | None = None,
        place: bool = True,
        tmp_dir: str | os.PathLike[str] | None = None,
        make_parents: bool = True,
    ) -> None:
        self.final = Path(final)
        self.tmp = temp_name(self.final, Path(tmp_dir) if tmp_dir else None)
        self.verify = verify
        self.place = place
        self.make_parents = make_parents
        self.result: WrittenFile | None = None

    def __enter__(self) -> Path:
        check_writable_target(self.final, make_parents=self.make_parents)
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
        except OutputError as exc:
            # A short file on a full disk fails verification; say why while the temporary
            # still holds the space it took.
            full = disk_full(self.tmp.parent)
            discard(self.tmp)
            if full:
                raise describe_os_error(OSError(errno.ENOSPC, "No space left on device"), self.final) from exc
            raise
        except BaseException:
            discard(self.tmp)
            raise
        return False

    def discard(self) -> None:
        """Drop a verified temporary that will not be placed (``place=False``)."""
        discard(self.tmp)


def check_writable_target(final: Path, *, make_parents: bool = True) -> None:
    """Refuse, before any work, a target that cannot be written: a folder where a file is
    wanted, a parent that is a file, a missing parent (unless it may be made)."""
    parent = final.parent
    for p in (parent, *parent.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                raise FileAccessError(f"{final}: {p} is a file, not a folder", hint="choose a path inside an existing folder")
            break
    if not parent.is_dir():
        if not make_parents:
            raise FileAccessError(f"{final}: the folder {parent} does not exist", hint="create it first, or choose an existing folder")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise describe_os_error(exc, parent) from None
    if final.is_dir():
        raise FileAccessError(f"{final}: is a folder, not a file", hint="give a file name, not a folder")


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
    final: str | os.PathLike[str], data: bytes, *, verify: Callable[[Path], None] | None = None, make_parents: bool = True
) -> WrittenFile:
    """Write ``data`` to ``final`` atomically; the bytes read back must be the bytes given."""

    def check(tmp: Path) -> None:
        if tmp.stat().st_size != len(data) or sha256_file(tmp) != sha256_bytes(data):
            raise OutputError(f"{final}: the bytes on disk differ from the bytes written", hint="check the disk")
        if verify is not None:
            verify(tmp)

    out = AtomicOutput(final, verify=check, make_parents=make_parents)
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
    out = copy_output(src, final, expected_sha256=expected_sha256, place=True)
    assert out.result is not None
    return out.result


def copy_output(
    src: str | os.PathLike[str],
    final: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    place: bool = False,
    tmp_dir: str | os.PathLike[str] | None = None,
) -> AtomicOutput:
    """Copy ``src`` to a verified temporary for ``final`` (placed at once if ``place``).

    With ``expected_sha256`` the copy must hash to it — the bytes kept are the bytes that were
    hashed as evidence, even if the source was changed since — or nothing is kept.
    """

    def check(tmp: Path) -> None:
        if expected_sha256 and sha256_file(tmp) != expected_sha256:
            raise HashMismatchError(
                f"{final}: the copy's SHA-256 is not that of {src} when it was checked",
                hint="the source was changed during the build, or the disk is failing; nothing was kept",
            )

    out = AtomicOutput(final, verify=check, place=place, tmp_dir=tmp_dir)
    with out as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
    return out


def copy_hashed(src: str | os.PathLike[str], dst: str | os.PathLike[str], expected_sha256: str) -> Path:
    """Copy ``src`` to a scratch file ``dst`` in one pass, hashing the bytes as they are copied;
    :class:`HashMismatchError` (and no copy) unless they hash to ``expected_sha256``.

    For a build's work folder: the copy is what the volume embeds, so what is embedded is what
    was hashed. Not fsynced — scratch files are re-created by a rerun; the volume is fsynced.
    """
    h = hashlib.sha256()
    dst = Path(dst)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
    if h.hexdigest() != expected_sha256:
        discard(dst)
        raise HashMismatchError(f"{src}: its SHA-256 is no longer the one recorded", hint="the file was changed; nothing was kept")
    return dst


class Placement:
    """A set of files just put in place, that can still be taken back (:meth:`undo`) —
    e.g. when the journal refuses the record that must accompany them — until :meth:`commit`.

    Files they replaced are kept as hidden hard links meanwhile, so undo restores them.
    """

    def __init__(self, outputs: list[AtomicOutput]) -> None:
        self.outputs = outputs
        self.placed: list[tuple[AtomicOutput, Path | None]] = []

    def _place(self) -> None:
        try:
            for out in self.outputs:
                backup = None
                if out.final.exists():
                    backup = out.tmp.with_name(out.tmp.name + ".old")
                    discard(backup)
                    os.link(out.final, backup)
                try:
                    os.replace(out.tmp, out.final)
                except OSError:
                    if backup is not None:
                        discard(backup)
                    raise
                self.placed.append((out, backup))
            for parent in {o.final.parent for o in self.outputs}:
                fsync_dir(parent)
        except OSError as exc:
            failed = self.outputs[len(self.placed)].final
            self.undo()
            raise describe_os_error(exc, failed) from exc

    def undo(self) -> None:
        """Put back what was there before (or nothing), newest first; drop every temporary."""
        for out, backup in reversed(self.placed):
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.replace(backup, out.final)
            else:
                discard(out.final)
        self.placed = []
        for out in self.outputs:
            discard(out.tmp)
        for parent in {o.final.parent for o in self.outputs}:
            fsync_dir(parent)

    def commit(self) -> None:
        """The placing stands: forget the replaced files."""
        for _, backup in self.placed:
            if backup is not None:
                discard(backup)
        self.placed = []


def place_all(outputs: list[AtomicOutput], *, hold: bool = False) -> Placement:
    """Rename a set of verified temporaries (``place=False``) into place together.

    A build's volumes appear together or not at all: every file was written and verified before
    the first rename, and if a rename fails the ones already placed are rolled back (the files
    they replaced restored). ``hold=True`` returns the placement uncommitted, for the caller to
    :meth:`Placement.commit` or :meth:`Placement.undo` once the journal has (or has not)
    recorded it. Put the file that marks completion (the report) last.
    """
    placement = Placement(outputs)
    placement._place()
    if not hold:
        placement.commit()
    return placement


@contextlib.contextmanager
def cleanup_on_error(paths: list[Path]) -> Iterator[None]:
    """Remove the given temporaries if the block fails (used around multi-file outputs)."""
    try:
        yield
    except BaseException:
        for p in paths:
            discard(p)
        raise
