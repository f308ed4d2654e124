"""Reading a user file's bytes and decoding a JSON object from them, with clear errors.

Every reader of a user file (batch.json, a capture manifest, a pen trajectory, a case file) has
the same failure modes before its model is even asked: the file is missing, a folder, unreadable,
absurdly large, not UTF-8, not JSON, nested without end, or not an object. They are said here
once, in the same words, naming the file and what it was expected to be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dossier_station.core.errors import DossierError, InputFileError


def read_bounded(
    path: Path,
    limit: int,
    what: str,
    *,
    error: type[DossierError] = InputFileError,
    missing: str | None = None,
    missing_hint: str = "check the path",
) -> bytes:
    """The file's bytes, at most ``limit``; a folder, a missing or unreadable file is ``error``."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not {what}", hint=f"give {what} itself") from None
    except FileNotFoundError:
        raise error(missing or f"{path}: not found", hint=missing_hint) from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}", hint="check the path and its permissions") from None
    if len(data) > limit:
        raise error(f"{path}: over {max(1, limit // 2**20)} MiB — not {what}", hint="check it is the right file")
    return data


def decode_json_object(
    data: bytes, name: str, what: str, hint: str, *, error: type[DossierError] = InputFileError
) -> dict[str, Any]:
    """``data`` as a JSON object; anything else is ``error`` naming ``name`` and the problem."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 (byte {exc.start})", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise error(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}) — cut short or edited?", hint=hint) from None
    except RecursionError:
        raise error(f"{name}: nested too deeply to be {what}", hint=hint) from None
    if not isinstance(raw, dict):
        raise error(f"{name}: {what} is a JSON object, not a {type(raw).__name__}", hint=hint)
    return raw
