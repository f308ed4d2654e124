"""The station profile: one TOML file describing this station; every value has a default.

Each area has its own table (``[build]``, ``[scanner]``, ``[pads]`` …), one strict pydantic
model per table in :mod:`dossier_station.core.profile_tables`. The whole file is validated when
it is loaded — before any scanning or OCR — so a wrong type, an unknown table or key, or a key
written above every table stops the station at once, naming the profile, the table, the key
and the nearest known name. A station with no profile at all works on the defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from dossier_station.core.errors import ProfileError
from dossier_station.core.formats.validation import nearest, raise_for
from dossier_station.core.profile_tables import TABLES, ProfileTable

DEFAULT_PROFILE_ENV = "DOSSIER_PROFILE"
# Tables whose areas read them with section() + their own checks and have no model yet: accepted
# as written. A table leaves this set when its model is registered in core/profile_tables.py.
UNTYPED_TABLES = frozenset({"watch", "station", "custody", "signing", "ui"})


def known_tables() -> list[str]:
    return sorted(set(TABLES) | UNTYPED_TABLES)


@dataclass(frozen=True)
class Profile:
    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, ProfileTable] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", validate_profile(self.data, self._where))

    @property
    def _where(self) -> str:
        return str(self.path) if self.path else "station profile"

    def section(self, name: str) -> dict[str, Any]:
        """The keys actually written in ``[name]`` (already validated), or {} when absent."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):  # only reachable for a table no model knows
            raise ProfileError(f"{self._where}: [{name}] must be a table", hint=f"write it as [{name}] followed by key = value lines")
        return value

    def table(self, name: str) -> Any:
        """The typed model of ``[name]``: the values written, defaults for the rest."""
        if name not in TABLES:
            raise KeyError(f"no profile table [{name}] is registered in core/profile_tables.py")
        return self.tables.get(name) or TABLES[name]()


def validate_profile(data: dict[str, Any], where: str = "station profile") -> dict[str, ProfileTable]:
    """Check every table of a parsed profile against its model; raise ProfileError on the first bad one."""
    tables: dict[str, ProfileTable] = {}
    for name, value in data.items():
        if name not in TABLES and name in UNTYPED_TABLES:
            if not isinstance(value, dict):
                raise ProfileError(f"{where}: {name} must be a table, not {type(value).__name__}", hint=f"write it as [{name}] followed by key = value lines")
            continue
        if name not in TABLES:
            if not isinstance(value, dict):
                owners = [t for t, m in TABLES.items() if name in m.model_fields]
                put = f"put it under [{owners[0]}]" if owners else f"put it under its table ({', '.join(f'[{t}]' for t in TABLES)})"
                raise ProfileError(f"{where}: key {name!r} is outside any table", hint=f"{put}; keys above the first [table] line are not read")
            guess = nearest(name, known_tables())
            raise ProfileError(
                f"{where}: unknown table [{name}]" + (f" — did you mean [{guess}]?" if guess else ""),
                hint=f"known tables: {', '.join(f'[{t}]' for t in known_tables())}",
            )
        model = TABLES[name]
        if not isinstance(value, dict):
            raise ProfileError(f"{where}: {name} must be a table, not {type(value).__name__}", hint=f"write it as [{name}] followed by key = value lines")
        try:
            tables[name] = model.model_validate(value)
        except ValidationError as exc:
            raise_for(
                exc, model, ProfileError, source=f"{where} [{name}]",
                hint=f"fix the key in [{name}] of the profile (see docs/schemas/profile.schema.json)",
            )
    return tables


LOADED: list[Profile] = []  # profiles read from a file by this process, newest last


def load_profile(path: str | os.PathLike[str] | None = None) -> Profile:
    """Read the profile named on the command line, else $DOSSIER_PROFILE, else defaults."""
    if path is None:
        path = os.environ.get(DEFAULT_PROFILE_ENV) or None
    if path is None:
        return Profile()
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{p}: station profile not found", hint="check the --profile path (or $DOSSIER_PROFILE)") from None
    except IsADirectoryError:
        raise ProfileError(f"{p}: is a folder, not a station profile", hint="give the profile's TOML file, e.g. --profile station.toml") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{p}: not UTF-8 text (byte {exc.start})", hint="save the profile as UTF-8 (TOML files must be UTF-8)") from None
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read the station profile: {exc.strerror or exc}", hint="check the path and its permissions") from None
    profile = parse_profile_text(text, p)
    LOADED.append(profile)  # the profile this process runs with: custody events name its [station]
    return profile


def parse_profile_text(text: str, path: Path | None = None) -> Profile:
    """A profile from its TOML text, validated table by table (the hypothesis tests feed this)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path or 'station profile'}: not valid TOML: {exc}", hint="fix the line named above") from None
    return Profile(path=path, data=data)


def check_keys(section: dict[str, Any], allowed: set[str], where: str) -> None:
    """Reject unknown keys (kept for tables without a model; the models already do this)."""
    unknown = sorted(set(section) - allowed)
    if unknown:
        guesses = [g for g in (nearest(k, allowed) for k in unknown) if g]
        raise ProfileError(
            f"profile [{where}]: unknown key(s) {', '.join(unknown)}" + (f" — did you mean {', '.join(guesses)}?" if guesses else ""),
            hint=f"allowed keys: {', '.join(sorted(allowed))}",
        )


def profile_schema() -> dict[str, Any]:
    """JSON Schema of the whole profile: one property per registered table."""
    from pydantic import create_model

    fields: dict[str, Any] = {name: (TABLES[name] | None, None) for name in sorted(TABLES)}  # stable: not registration order
    whole: type[BaseModel] = create_model("StationProfile", __config__=None, **fields)
    schema = whole.model_json_schema(by_alias=True)
    for name in sorted(UNTYPED_TABLES - set(TABLES)):
        schema["properties"][name] = {"type": "object", "description": f"[{name}]: checked by its area (no model yet)"}
    schema["additionalProperties"] = False
    return {"title": "dossier-station station profile (TOML)", **{k: v for k, v in schema.items() if k != "title"}}
