"""Custody as plain data: event kinds, who did it, the station's custody settings, and the two
formats that carry custody out of the station — the custody manifest embedded in each volume
and the custody history inside a transfer package (调卷).

Nothing here touches SQLite or the network: the journal (``core.journal``) stores events, the
station (``station.custody``) anchors, mirrors and exports them, and both formats are parsed
here with errors that name the file and field, because they arrive from other stations.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dossier_station.core.errors import DossierError, ExitCode, ProfileError
from dossier_station.core.profile import Profile, check_keys, load_profile

# One event per step of a dossier's life (the list, plus the anchor record itself).
CAPTURED = "captured"  # a raw page written by the scanner: device, settings, raw hash
PROCESSED = "processed"  # a page through the page stage: raw hash → processed image hash, parameters
ASSEMBLED = "assembled"  # a volume written: page hashes → file hash
SIGNED = "signed"  # a signature added (signer, certificate, signature digest); detail names the source hash
SEALED = "sealed"  # the unit's seal added; as signed
MIRRORED = "mirrored"  # an output copied to a mirror and checked by hash (also: repaired)
EXPORTED = "exported"  # a transfer package written (调卷)
IMPORTED = "imported"  # a transfer package accepted on this station
VERIFIED = "verified"  # a dossier checked (custody verify, signature verify)
VIEWED = "viewed"  # a dossier opened for reading (show, extract)
WATCH_JOB = "watch-job"  # a hot-folder job claimed / done / failed
ANCHORED = "anchored"  # the chain head timestamped by the TSA (the token is in the anchors table)
KINDS = (CAPTURED, PROCESSED, ASSEMBLED, SIGNED, SEALED, MIRRORED, EXPORTED, IMPORTED, VERIFIED, VIEWED, WATCH_JOB, ANCHORED)
# Names written by the first journal (and still by some callers): read as their canonical kind.
LEGACY_KINDS = {"capture": CAPTURED, "build": ASSEMBLED, "sign": SIGNED, "seal": SEALED, "mirror": MIRRORED}
# Kinds whose sha256 is the hash of a dossier file a clerk may hand over.
DOSSIER_FILE_KINDS = {ASSEMBLED, SIGNED, SEALED, IMPORTED, MIRRORED}

MANIFEST_NAME = "custody-manifest.json"
MANIFEST_FORMAT = "dossier-custody-manifest/1"
HISTORY_FORMAT = "dossier-custody-history/1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")

OPERATOR_ENV = "DOSSIER_OPERATOR"
STATION_ENV = "DOSSIER_STATION_ID"
CUSTODY_KEYS = {"mirrors", "tsa", "tsa_trust", "anchor_hours"}


def canonical_kind(kind: str) -> str:
    return LEGACY_KINDS.get(kind, kind)


class CustodyError(DossierError):
    """The custody record does not hold: a chain broken, an anchor failing, a file changed."""

    exit_code = ExitCode.invalid_output_pdf


@dataclass(frozen=True)
class CustodySettings:
    """The profile's ``[station]`` and ``[custody]`` tables, resolved.

    ``[station] id/operator`` name who records each event (``$DOSSIER_OPERATOR`` overrides the
    operator for a shift); ``[custody]`` names the mirrors, the TSA that anchors the journal
    (falling back to ``[signing] tsa_url``), the TSA's root certificate for checking anchors,
    and how often a running station anchors (hours).
    """

    station_id: str
    operator: str
    mirrors: tuple[Path, ...] = ()
    tsa_url: str | None = None
    tsa_trust: Path | None = None
    anchor_hours: float = 24.0
    signing_trust: tuple[Path, ...] = ()  # [signing] trust: roots for the signatures in a package

    @property
    def identity(self) -> dict[str, str]:
        return {"station": self.station_id, "operator": self.operator}

    @classmethod
    def from_profile(cls, profile: Profile | None = None) -> CustodySettings:
        profile = profile if profile is not None else load_profile()
        station = profile.section("station")
        custody = profile.section("custody")
        check_keys(custody, CUSTODY_KEYS, "custody")
        where = profile.path or "profile"
        station_id = os.environ.get(STATION_ENV) or station.get("id") or socket.gethostname()
        operator = os.environ.get(OPERATOR_ENV) or station.get("operator") or _os_user()
        for name, value in (("[station] id", station_id), ("[station] operator", operator)):
            if not isinstance(value, str) or not value.strip():
                raise ProfileError(f"{where}: {name} must be a non-empty text", hint='for example: id = "沪一中院-扫描站-01"')
        mirrors = custody.get("mirrors", [])
        if not isinstance(mirrors, list) or not all(isinstance(m, str) and m for m in mirrors):
            raise ProfileError(f"{where}: [custody] mirrors must be a list of folder paths", hint='for example: mirrors = ["/mnt/nas/dossiers"]')
        signing = profile.section("signing")
        tsa = custody.get("tsa") or signing.get("tsa_url") or signing.get("tsa")
        if tsa is not None and (not isinstance(tsa, str) or not tsa.startswith(("http://", "https://"))):
            raise ProfileError(f"{where}: [custody] tsa must be an http(s) URL of an RFC 3161 TSA", hint='for example: tsa = "http://tsa.example/tsa"')
        trust = custody.get("tsa_trust")
        hours = custody.get("anchor_hours", 24.0)
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
            raise ProfileError(f"{where}: [custody] anchor_hours must be a positive number", hint="for example: anchor_hours = 24")
        base = Path(profile.path).parent if profile.path else Path.cwd()
        return cls(
            station_id=station_id.strip(),
            operator=operator.strip(),
            mirrors=tuple((base / m).resolve() for m in mirrors),
            tsa_url=tsa,
            tsa_trust=(base / trust).resolve() if isinstance(trust, str) and trust else None,
            anchor_hours=float(hours),
            signing_trust=tuple((base / t).resolve() for t in signing.get("trust", []) if isinstance(t, str)),
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# ---- the two formats that leave the station -------------------------------------------------

def _fail(where: str, field: str, what: str) -> CustodyError:
    return CustodyError(f"{where}: {field} {what}", hint="the file was changed or is not a custody record of dossier-station; ask the sender for the original")


def _want(obj: Any, field: str, typ: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or field not in obj:
        raise _fail(where, field, "is missing")
    value = obj[field]
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        raise _fail(where, field, f"has the wrong type ({type(value).__name__})")
    return value


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CustodyError(f"{where}: not valid UTF-8 JSON", hint="the file was damaged or replaced; ask the sender for the original") from None


def check_events(events: Any, where: str) -> list[dict[str, Any]]:
    """Events as carried in a manifest or history: each either whole or redacted to its hashes."""
    if not isinstance(events, list):
        raise _fail(where, "events", "must be a list")
    for i, ev in enumerate(events):
        at = f"events[{i}]"
        _want(ev, "id", int, where)
        for key in ("prev_hash", "hash"):
            if not HEX64.match(str(_want(ev, key, str, where))):
                raise _fail(where, f"{at}.{key}", "is not a SHA-256")
        if ev.get("redacted"):
            if not HEX64.match(str(_want(ev, "content_hash", str, where))):
                raise _fail(where, f"{at}.content_hash", "is not a SHA-256")
            continue
        for key in ("time", "kind", "subject", "detail_text"):
            _want(ev, key, str, where)
        if ev.get("sha256") is not None and not isinstance(ev["sha256"], str):
            raise _fail(where, f"{at}.sha256", "must be text or null")
        if not isinstance(ev.get("v", 1), int):
            raise _fail(where, f"{at}.v", "must be an integer")
    return events


def parse_manifest(data: bytes, where: str = MANIFEST_NAME) -> dict[str, Any]:
    """A volume's embedded custody manifest, checked field by field (any bytes → dict or error)."""
    doc = _load_json(data, where)
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise CustodyError(f"{where}: not a custody manifest (format is not {MANIFEST_FORMAT})", hint="this file was not made by dossier-station, or was replaced")
    pages = _want(doc, "pages", list, where)
    for i, p in enumerate(pages):
        _want(p, "key", str, where)
        if not HEX64.match(str(_want(p, "raw_sha256", str, where))):
            raise _fail(where, f"pages[{i}].raw_sha256", "is not a SHA-256")
    for i, v in enumerate(_want(doc, "volumes", list, where)):
        _want(v, "volume", int, where)
        if not all(isinstance(k, str) for k in _want(v, "pages", list, where)):
            raise _fail(where, f"volumes[{i}].pages", "must list page keys")
    check_events(_want(doc, "events", list, where), where)
    _want(doc, "station", dict, where)
    return doc


def parse_history(data: bytes, where: str = "custody.json") -> dict[str, Any]:
    """The custody history in a transfer package: a chain slice, its anchors and the dossier."""
    doc = _load_json(data, where)
    if not isinstance(doc, dict) or doc.get("format") != HISTORY_FORMAT:
        raise CustodyError(f"{where}: not a custody history (format is not {HISTORY_FORMAT})", hint="this package was not made by dossier export, or was replaced")
    dossier = _want(doc, "dossier", dict, where)
    if not HEX64.match(str(_want(dossier, "sha256", str, where))):
        raise _fail(where, "dossier.sha256", "is not a SHA-256")
    if not HEX64.match(str(_want(doc, "start_prev", str, where))):
        raise _fail(where, "start_prev", "is not a SHA-256")
    check_events(_want(doc, "events", list, where), where)
    for a in _want(doc, "anchors", list, where):
        _want(a, "event_id", int, where)
        _want(a, "token", str, where)
    return doc
