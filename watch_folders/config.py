"""Hot-folder settings: one :class:`HotFolder` per watched folder, from the CLI or ``[watch]``.

A station may serve several hot folders at once (the MFP's scan-to-folder share, another
agency's drop box, an operator's batch folder), each with its own output, build profile, case
template, mirrors and timing. The profile's ``[watch]`` table holds defaults for all of them
and ``[[watch.folders]]`` one table per folder; keys are checked, so a misspelt ``stabel``
is an error instead of a silent default.

Why the loop check: a watcher whose output lies inside its input (or the reverse) would take
its own results as new jobs forever — OCRmyPDF's watcher refuses it for the same reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError, ProfileError
from dossier_station.core.profile import Profile, check_keys

STATE_DIR = ".dossier-watch"  # hidden: inside HOT (processing area) and inside OUT (state, staging)
DEFAULT_STABLE = 5.0
DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB per job: a dossier's scans, not a disk image
DEFAULT_MAX_PAGES = 2000
DEFAULT_MAX_ATTEMPTS = 3
COMMON_KEYS = {"poll", "stable", "workers", "max_bytes", "max_pages", "max_attempts", "profile", "case_template", "mirrors", "log"}
FOLDER_KEYS = COMMON_KEYS - {"workers", "log"} | {"hot", "output", "name"}


@dataclass(frozen=True)
class HotFolder:
    """One watched folder and what happens to the jobs dropped into it."""

    hot: Path
    out: Path
    name: str = ""
    poll: float = 0.0  # 0 = filesystem events (plus a slow safety rescan); > 0 = poll every N seconds
    stable: float = DEFAULT_STABLE  # seconds of unchanged size+mtime before a file is taken
    profile: Path | None = None  # build profile for this folder's jobs (None: the station's)
    case_template: Path | None = None  # case file for single-file jobs and folders without one
    mirrors: tuple[Path, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pages: int = DEFAULT_MAX_PAGES
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    options: dict[str, Any] = field(default_factory=dict)  # extra settings for the job function

    @property
    def label(self) -> str:
        return self.name or self.hot.name

    @property
    def processing(self) -> Path:
        """Where claimed jobs live while they run: inside HOT, so the claim is one rename."""
        return self.hot / STATE_DIR / "processing"

    @property
    def state_dir(self) -> Path:
        return self.out / STATE_DIR

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.sqlite3"

    @property
    def staging(self) -> Path:
        """Where a job's outcome folder is assembled before one rename puts it in done/ or failed/."""
        return self.state_dir / "staging"

    @property
    def done(self) -> Path:
        return self.out / "done"

    @property
    def failed(self) -> Path:
        return self.out / "failed"


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_folder(folder: HotFolder) -> HotFolder:
    """Refuse settings that would lose files or loop; return the folder with resolved paths."""
    if folder.hot.is_symlink():
        raise BadArgsError(f"{folder.hot}: the hot folder is a symbolic link", hint="give the real folder's path")
    if not folder.hot.is_dir():
        raise BadArgsError(f"{folder.hot}: no such folder", hint="create the hot folder first, or check the path")
    hot = folder.hot.resolve()
    out = folder.out.resolve()
    if _inside(out, hot):
        raise BadArgsError(
            f"{folder.out}: the output folder lies inside the hot folder {folder.hot}",
            hint="results would be taken as new jobs forever; choose an output folder outside it",
        )
    if _inside(hot, out):
        raise BadArgsError(
            f"{folder.hot}: the hot folder lies inside the output folder {folder.out}",
            hint="choose folders side by side, e.g. /srv/scan-in and /srv/dossiers",
        )
    for mirror in folder.mirrors:
        m = mirror.resolve()
        if _inside(m, hot) or _inside(hot, m):
            raise BadArgsError(f"{mirror}: a mirror folder overlaps the hot folder {folder.hot}", hint="choose a mirror outside it")
    if folder.stable < 0 or folder.poll < 0:
        raise BadArgsError("--stable and --poll must not be negative")
    if folder.max_attempts < 1:
        raise BadArgsError("max_attempts must be at least 1")
    return replace(folder, hot=hot, out=out, mirrors=tuple(m.resolve() for m in folder.mirrors))


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ProfileError(f"profile [{where}]: {key} must be a number ≥ 0, not {value!r}")
    return float(value)


def _path(value: Any, key: str, where: str, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ProfileError(f"profile [{where}]: {key} must be a path (a string)")
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else base / p


def _apply(values: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
    """Profile keys → HotFolder fields (paths relative to the profile's folder)."""
    out: dict[str, Any] = {}
    for key in ("poll", "stable"):
        if key in values:
            out[key] = _number(values[key], key, where)
    for key in ("max_bytes", "max_pages", "max_attempts"):
        if key in values:
            out[key] = int(_number(values[key], key, where))
    for key in ("profile", "case_template"):
        if key in values:
            out[key] = _path(values[key], key, where, base)
    if "mirrors" in values:
        mirrors = values["mirrors"]
        if isinstance(mirrors, str):
            mirrors = [mirrors]
        if not isinstance(mirrors, list):
            raise ProfileError(f"profile [{where}]: mirrors must be a list of folders")
        out["mirrors"] = tuple(_path(m, "mirrors", where, base) for m in mirrors)
    return out


@dataclass(frozen=True)
class WatchSettings:
    """What ``dossier watch`` serves: its folders and the daemon-wide settings."""

    folders: tuple[HotFolder, ...]
    workers: int = 1
    log: Path | None = None


def settings_from_profile(profile: Profile, *, hot: Path | None = None, out: Path | None = None, **cli: Any) -> WatchSettings:
    """The folders to serve: HOT/-o OUT from the command line, else ``[[watch.folders]]``.

    Command-line values (``poll``, ``stable``, ``workers`` …, None when not given) override the
    profile's for every folder.
    """
    section = dict(profile.section("watch"))
    base = profile.path.parent if profile.path else Path.cwd()
    raw_folders = section.pop("folders", [])
    check_keys(section, COMMON_KEYS, "watch")
    defaults = _apply(section, "watch", base)
    overrides = {k: v for k, v in cli.items() if v is not None and k not in ("workers", "log")}
    folders: list[HotFolder] = []
    if hot is not None:
        if out is None:
            raise BadArgsError("an output folder is required with a hot folder", hint="add -o OUT")
        folders.append(HotFolder(hot=hot, out=out, **{**defaults, **overrides}))
    else:
        if not isinstance(raw_folders, list) or not raw_folders:
            raise BadArgsError(
                "no hot folder given",
                hint="run: dossier watch HOT -o OUT, or list folders in the profile's [[watch.folders]] tables",
            )
        for i, entry in enumerate(raw_folders, start=1):
            where = f"watch.folders #{i}"
            if not isinstance(entry, dict):
                raise ProfileError(f"profile [{where}] must be a table")
            check_keys(entry, FOLDER_KEYS, where)
            if "hot" not in entry or "output" not in entry:
                raise ProfileError(f"profile [{where}]: hot and output are required", hint='add  hot = "/srv/scan-in"  and  output = "/srv/dossiers"')
            values = {**defaults, **_apply(entry, where, base), **overrides}
            folders.append(HotFolder(
                hot=_path(entry["hot"], "hot", where, base), out=_path(entry["output"], "output", where, base),
                name=str(entry.get("name", "")), **values,
            ))
    checked = [check_folder(f) for f in folders]
    _check_distinct(checked)
    workers = cli.get("workers") or int(_number(section.get("workers", 1), "workers", "watch")) or 1
    log = cli.get("log") or (_path(section["log"], "log", "watch", base) if "log" in section else None)
    return WatchSettings(tuple(checked), workers=workers, log=log)


def _check_distinct(folders: list[HotFolder]) -> None:
    """Two entries on one hot folder, or one folder's output inside another's hot folder, loop."""
    for a in folders:
        for b in folders:
            if a is b:
                continue
            if a.hot == b.hot:
                raise BadArgsError(f"{a.hot}: listed twice in [[watch.folders]]", hint="keep one entry per hot folder")
            if _inside(a.out, b.hot):
                raise BadArgsError(f"{a.out}: output of {a.label} lies inside the hot folder {b.hot}", hint="results would be taken as new jobs")
