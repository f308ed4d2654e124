"""``dossier import PKG --into DIR``: accept a transfer package only when everything holds.

Checked before anything is written into DIR, each failure a reason the clerk can pass back to
the sender: the package's own listing (every file present, unchanged, nothing added), the
custody history (the chain slice recomputes link by link; every anchor's RFC 3161 token is
intact over the recomputed head and, given a trust root, from a trusted TSA; the history names
this dossier), the dossier's embedded custody manifest (its events are the history's own), and
the signatures (when the signing area can check them). Accepted, the dossier is copied into
DIR atomically with its history beside it (``<name>.custody.json``) and the import is recorded
in this station's journal; refused, nothing is copied and the refusal is recorded.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from dossier_station.core.custody import (
    DOSSIER_FILE_KINDS,
    IMPORTED,
    VERIFIED,
    CustodyError,
    CustodySettings,
    canonical_kind,
    parse_history,
)
from dossier_station.core.custody_chain import check_chain
from dossier_station.core.errors import FileAccessError
from dossier_station.core.files import copy_atomic, sha256_bytes, sha256_file, write_bytes_atomic
from dossier_station.core.journal import Journal
from dossier_station.station.transfer import (
    HISTORY_JSON,
    PACKAGE_FORMAT,
    PACKAGE_JSON,
    check_signatures,
)

MAX_MEMBER = 4 << 30


def _unpack(pkg: Path, work: Path) -> Path:
    """A zip is unpacked (member names checked: no paths, no links) into ``work``; a folder is used as is."""
    if pkg.is_dir():
        return pkg
    if not pkg.is_file():
        raise FileAccessError(f"{pkg}: no such package", hint="give the package folder or .zip")
    try:
        with zipfile.ZipFile(pkg) as z:
            seen: set[str] = set()
            for info in z.infolist():
                name = PurePosixPath(info.filename)
                if (len(name.parts) != 1 or name.name in ("", ".", "..") or info.is_dir() or info.file_size > MAX_MEMBER
                        or name.name in seen):
                    raise CustodyError(f"{pkg}: refused — the zip holds an unexpected entry {info.filename!r}", hint="a transfer package holds plain files only, each once; ask the sender for the original")
                seen.add(name.name)
                with z.open(info) as src, open(work / name.name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise CustodyError(f"{pkg}: refused — not a readable zip ({exc})", hint="the package was damaged in transit; ask the sender for it again") from None
    return work


def _refuse(pkg: Path, reasons: list[str]) -> CustodyError:
    return CustodyError(f"{pkg}: package refused:\n" + "\n".join(f"  ✗ {r}" for r in reasons),
                        hint="nothing was imported; send these reasons to the sender and ask for the package again")


def check_package(folder: Path, pkg: Path, settings: CustodySettings, trust: Path | None) -> dict[str, Any]:
    """Every check of the module's docstring; raises the refusal listing all reasons found."""
    reasons: list[str] = []
    try:
        package = json.loads((folder / PACKAGE_JSON).read_bytes())
        if not isinstance(package, dict) or package.get("format") != PACKAGE_FORMAT or not isinstance(package.get("files"), list):
            raise ValueError("not a transfer package")
        listing = {str(f["name"]): f for f in package["files"]}
        dossier_name = str(package["dossier"]["name"])
        dossier_sha = str(package["dossier"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _refuse(pkg, [f"{PACKAGE_JSON} is missing or unreadable ({exc})"]) from None
    present = {p.name for p in folder.iterdir() if p.is_file()} - {PACKAGE_JSON}
    for name in sorted(set(listing) - present):
        reasons.append(f"{name} is listed but missing")
    for name in sorted(present - set(listing)):
        reasons.append(f"{name} is in the package but not in its listing (added in transit)")
    for name in sorted(set(listing) & present):
        if sha256_file(folder / name) != listing[name].get("sha256"):
            reasons.append(f"{name} was changed in transit: its SHA-256 differs from the package listing")
    if reasons:
        raise _refuse(pkg, reasons)
    if listing.get(dossier_name, {}).get("sha256") != dossier_sha:
        raise _refuse(pkg, [f"the package names {dossier_name} but does not list it with that hash"])
    try:
        history = parse_history((folder / HISTORY_JSON).read_bytes(), f"{pkg}/{HISTORY_JSON}")
    except CustodyError as exc:
        raise _refuse(pkg, [str(exc).splitlines()[0]]) from None
    chain = check_chain(history["events"], history["start_prev"])
    reasons += [f"custody history: {p.message}" for p in chain.problems]
    if history["dossier"]["sha256"] != dossier_sha:
        reasons.append("the custody history is for another dossier")
    named = [e for e in history["events"] if not e.get("redacted") and e.get("sha256") == dossier_sha and canonical_kind(e["kind"]) in DOSSIER_FILE_KINDS]
    if not named:
        reasons.append("the custody history has no entry that made this dossier")
    anchors = _check_anchors(history, chain.recomputed, settings, trust, reasons)
    if named and not any(a["event_id"] >= named[-1]["id"] for a in anchors):
        anchors_note = "the dossier's last event is not covered by an anchor (the sender had no TSA reachable)"
    else:
        anchors_note = None
    from dossier_station.station.custody import read_manifest

    try:
        manifest = read_manifest(folder / dossier_name)
    except CustodyError as exc:
        manifest = None
        reasons.append(str(exc).splitlines()[0])
    if manifest:
        by_id = {e["id"]: e for e in history["events"]}
        for ev in manifest["events"]:
            if ev["id"] in by_id and by_id[ev["id"]]["hash"] != ev["hash"]:
                reasons.append(f"the dossier's custody manifest event {ev['id']} differs from the sending station's history")
    signatures = check_signatures(folder / dossier_name, settings.signing_trust + ((trust,) if trust else ()))
    if signatures["status"] == "failed":
        reasons.append(f"signatures do not verify: {signatures.get('reason')}")
    elif signatures["status"] == "untrusted":
        reasons.append(f"signatures are intact but no trusted root vouches for the signer ({signatures.get('reason')}): give --trust ROOT.pem or [signing] trust")
    if reasons:
        raise _refuse(pkg, reasons)
    return {"package": package, "history": history, "anchors": anchors, "signatures": signatures, "note": anchors_note,
            "dossier_name": dossier_name, "dossier_sha256": dossier_sha}


def _check_anchors(history: dict[str, Any], recomputed: dict[int, str], settings: CustodySettings, trust: Path | None,
                   reasons: list[str]) -> list[dict[str, Any]]:
    from dossier_station.signing.rfc3161 import verify_token

    roots = [trust] if trust else ([settings.tsa_trust] if settings.tsa_trust else None)
    out = []
    for a in history["anchors"]:
        head = recomputed.get(a["event_id"])
        if head is None:
            reasons.append(f"anchor over entry {a['event_id']}: that entry is not in the history")
            continue
        try:
            token = base64.b64decode(a["token"], validate=True)
        except ValueError:
            reasons.append(f"anchor over entry {a['event_id']}: the token is not valid base64")
            continue
        check = verify_token(token, bytes.fromhex(head), trust_roots=roots)
        if not check.ok:
            reasons.append(f"anchor over entry {a['event_id']}: {check.reason}")
        out.append({"event_id": a["event_id"], "gen_time": check.gen_time.isoformat() if check.gen_time else None,
                    "tsa": check.tsa, "trusted": check.trusted})
    return out


def import_package(pkg: Path, into: Path, settings: CustodySettings, *, trust: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=".import-") as work_name, Journal() as journal:
        journal.check()
        try:
            folder = _unpack(pkg, Path(work_name))
            result = check_package(folder, pkg, settings, trust)
        except CustodyError as exc:
            journal.record(VERIFIED, str(pkg.resolve()), sha256_file(pkg) if pkg.is_file() else None,
                           action="import", accepted=False, reasons=str(exc).splitlines()[1:])
            raise
        name, sha = result["dossier_name"], result["dossier_sha256"]
        target = into / name
        if target.exists() and sha256_file(target) != sha:
            raise FileAccessError(f"{target}: a different file of that name is already here", hint="import into another folder; nothing was replaced")
        copy_atomic(folder / name, target, expected_sha256=sha)
        stem = name.removesuffix(".pdf")
        write_bytes_atomic(into / f"{stem}.custody.json", (folder / HISTORY_JSON).read_bytes())
        write_bytes_atomic(into / f"{stem}.transfer.json", json.dumps(
            {"package": result["package"], "anchors": result["anchors"], "signatures": result["signatures"], "note": result["note"]},
            ensure_ascii=False, indent=1).encode())
        req = result["package"]["request"]
        sender = result["history"].get("station") or {}
        journal.record(IMPORTED, str(target.resolve()), sha, package=str(pkg.resolve()), package_sha256=sha256_bytes((folder / PACKAGE_JSON).read_bytes()),
                       request=req.get("number"), requester=req.get("requester"), approver=req.get("approver"),
                       from_station=sender.get("station"), from_operator=sender.get("operator"),
                       sender_head=result["history"]["events"][-1]["hash"], anchors=len(result["anchors"]),
                       signatures=result["signatures"]["status"])
    events = sum(1 for e in result["history"]["events"] if not e.get("redacted"))
    return {"file": str(target), "sha256": sha, "anchors": result["anchors"], "signatures": result["signatures"]["status"],
            "note": result["note"], "events": events, "request": req, "from": sender}
