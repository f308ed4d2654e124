"""The station profile: one TOML file describing this station; every value has a default.

Each area reads its own table (``[ocr]``, ``[scanner]``, ``[pads]``, ``[output]`` …) through
:meth:`Profile.section`, so a station with no profile at all works, and a typo in a key is
reported instead of silently ignored (areas validate their own keys).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import ProfileError

DEFAULT_PROFILE_ENV = "DOSSIER_PROFILE"


@dataclass(frozen=True)
class Profile:
    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ProfileError(
                f"{self.path or 'profile'}: [{name}] must be a table",
                hint=f"write it as a TOML table: [{name}] followed by key = value lines",
            )
        return value


def load_profile(path: str | os.PathLike[str] | None = None) -> Profile:
    """Read the profile named on the command line, else $DOSSIER_PROFILE, else defaults."""
    if path is None:
        path = os.environ.get(DEFAULT_PROFILE_ENV) or None
    if path is None:
        return Profile()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{p}: station profile not found", hint="check the --profile path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{p}: not valid TOML: {exc}", hint="fix the line named above") from None
    return Profile(path=p, data=data)


def check_keys(section: dict[str, Any], allowed: set[str], where: str) -> None:
    """Reject unknown keys so a misspelt setting is an error, not a silent default."""
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ProfileError(
            f"profile [{where}]: unknown key(s) {', '.join(unknown)}",
            hint=f"allowed keys: {', '.join(sorted(allowed))}",
        )
