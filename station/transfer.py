"""Transfer packages (调卷): a dossier leaves the station with its whole custody trail.

``dossier export DOSSIER.pdf --request "调卷函 No." --requester … --approver … -o PKG/`` writes
one folder (or one ``.zip``) holding:

- the dossier, byte for byte;
- ``custody.json`` — the slice of the journal from the dossier's first event to the anchor that
  covers its last one, with every unrelated event **redacted** to its content hash (the chain
  still verifies end to end, the receiver learns nothing of other cases), and the anchors' RFC
  3161 tokens;
- ``custody-manifest.json`` — the manifest embedded in the volume, extracted for reading;
- ``verification.json`` — the custody check and the signature check made before export;
- ``package.json`` — the request (调卷函 number, requester, approver), who exported it, and the
  SHA-256 of every file above.

Export refuses a dossier whose custody does not hold: a package vouches for what it carries.
The export is recorded (``exported``) with the hash of ``package.json``, which names every file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dossier_station.core.custody import (
    EXPORTED,
    HISTORY_FORMAT,
    MANIFEST_NAME,
    CustodyError,
    CustodySettings,
)
from dossier_station.core.errors import BadArgsError, DossierError, FileAccessError
from dossier_station.core.files import (
    AtomicOutput,
    fsync_dir,
    sha256_bytes,
    sha256_file,
    write_bytes_atomic,
)
from dossier_station.core.journal import Journal

PACKAGE_FORMAT = "dossier-transfer-package/1"
PACKAGE_JSON = "package.json"
HISTORY_JSON = "custody.json"
VERIFICATION_JSON = "verification.json"


def check_signatures(path: Path, trust_files: list[Path] | tuple[Path, ...] = ()) -> dict[str, Any]:
    """The signing area's verification of the dossier (``signing.verify.verify_file``).

    Looked up at run time so custody neither waits for nor depends on the signing area; absent,
    the package says plainly that signatures were not checked. ``failed``: a signature is broken
    or the file was changed illegally after it; ``untrusted``: intact, but no given root vouches
    for the signer; ``unsigned``: no signature at all.
    """
    try:
        from dossier_station.signing.pades import Trust
        from dossier_station.signing.rfc3161 import load_certs
        from dossier_station.signing.verify import verify_file
    except ImportError:
        return {"status": "not checked", "reason": "the signing area's verification is not installed on this station"}
    try:
        report = verify_file(path, Trust(roots=load_certs(list(trust_files))))
    except DossierError as exc:
        return {"status": "failed", "reason": str(exc).splitlines()[0]}
    except Exception as exc:  # the signing area's own fault: say so, do not call the dossier bad
        return {"status": "not checked", "reason": f"the signature check could not run ({type(exc).__name__}: {exc})"}
    data = report.as_dict()
    sigs = data.get("signatures") or []
    if not sigs:
        status = "unsigned"
    elif report.ok:
        status = "valid"
    elif any(not s.get("intact") or "ILLEGAL" in str(s.get("modifications")) for s in sigs) or data.get("problems"):
        status = "failed"
    else:
        status = "untrusted"
    reasons = [*data.get("problems", []), *(p for s in sigs for p in s.get("problems", []))]
    return {"status": status, "reason": "; ".join(map(str, reasons))[:500], "report": data}


def history_slice(journal: Journal, dossier_sha: str, seeds: set[str], settings: CustodySettings) -> dict[str, Any]:
    """The chain from the dossier's first related event to the anchor covering its last one."""
    from dossier_station.station.custody import anchor_json, anchor_now, exported_event
    from dossier_station.station.custody_show import related_events

    events = journal.events()
    related = related_events(events, seeds)
    if not related:
        raise CustodyError(f"no journal entry on this station names this dossier (SHA-256 {dossier_sha[:16]}…)",
                           hint="only a dossier made, sealed or imported on this station can be exported with its history")
    first, last = related[0]["id"], related[-1]["id"]
    anchors = journal.anchors()
    if not any(a.event_id >= last for a in anchors) and settings.tsa_url:
        with contextlib.suppress(DossierError):  # exported unanchored; the receiver is told
            anchor_now(journal, settings, "export")
        anchors = journal.anchors()
    cover = next((a for a in anchors if a.event_id >= last), None)
    end = cover.event_id if cover else last
    keep = {e["id"] for e in related}
    out = []
    for e in events:
        if first <= e["id"] <= end:
            if e["id"] in keep or e.get("v", 1) < 2:
                out.append(exported_event(e))
            else:
                from dossier_station.core.custody_chain import event_content_hash

                full = exported_event(e)
                out.append({"id": e["id"], "prev_hash": e["prev_hash"], "hash": e["hash"], "v": 2, "redacted": True,
                            "content_hash": event_content_hash(full)})
    return {
        "format": HISTORY_FORMAT,
        "dossier": {"sha256": dossier_sha},
        "station": journal.identity,
        "start_prev": out[0]["prev_hash"],
        "events": out,
        "anchors": [anchor_json(a) for a in anchors if first <= a.event_id <= end],
        "anchored_through": cover.event_id if cover else None,
    }


def export_package(dossier: Path, out: Path, *, request: str, requester: str, approver: str,
                   settings: CustodySettings, trust: Path | None = None) -> dict[str, Any]:
    from dossier_station.station.custody import read_manifest
    from dossier_station.station.custody_verify import verify_custody

    for name, value in (("--request", request), ("--requester", requester), ("--approver", approver)):
        if not value or not value.strip():
            raise BadArgsError(f"{name} must not be empty", hint="a 调卷 package names the request, who asked and who approved")
    if not dossier.is_file():
        raise FileAccessError(f"{dossier}: no such dossier file", hint="give the PDF to export")
    as_zip = out.suffix.lower() == ".zip"
    occupied = out.exists() and (not out.is_dir() or as_zip or any(out.iterdir()))
    if occupied:
        raise FileAccessError(f"{out}: already exists", hint="choose a new package folder or .zip name; a package is never overwritten")
    with Journal() as journal:
        report = verify_custody(journal, settings, trust=trust, dossier=dossier)
        if not report.ok:
            raise CustodyError(f"{dossier}: custody does not hold, the package was not made:\n" + "\n".join(f"  ✗ {p.message}" for p in report.problems),
                               hint="run `dossier custody verify --dossier FILE` and resolve the problems first")
        sha = report.dossier["sha256"] if report.dossier else sha256_file(dossier)
        manifest = read_manifest(dossier)
        seeds = {sha} | ({p["raw_sha256"] for p in manifest["pages"]} if manifest else set())
        hist = history_slice(journal, sha, seeds, settings)
        hist["dossier"]["file"] = dossier.name
        signatures = check_signatures(dossier, settings.signing_trust + ((trust,) if trust else ()))
        if signatures["status"] == "failed":
            raise CustodyError(f"{dossier}: its signatures do not verify, the package was not made", hint="run `dossier verify FILE` for details")
        files: dict[str, bytes] = {
            HISTORY_JSON: _json(hist),
            VERIFICATION_JSON: _json({"custody": report.to_json(), "signatures": signatures,
                                      "checked": datetime.now(UTC).isoformat(timespec="seconds")}),
        }
        if manifest:
            files[MANIFEST_NAME] = _json(manifest)
        listing = [{"name": dossier.name, "sha256": sha, "bytes": dossier.stat().st_size, "role": "dossier"}]
        listing += [{"name": n, "sha256": sha256_bytes(b), "bytes": len(b), "role": n.removesuffix(".json")} for n, b in files.items()]
        package = {
            "format": PACKAGE_FORMAT,
            "request": {"number": request.strip(), "requester": requester.strip(), "approver": approver.strip()},
            "exported": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "station": journal.identity,
            "dossier": {"name": dossier.name, "sha256": sha},
            "files": listing,
        }
        files[PACKAGE_JSON] = _json(package)
        written = _write_zip(out, dossier, files) if as_zip else _write_folder(out, dossier, files)
        package_sha = sha256_bytes(files[PACKAGE_JSON])
        journal.record(EXPORTED, str(written.resolve()), package_sha, dossier=str(dossier.resolve()), dossier_sha256=sha,
                       request=request.strip(), requester=requester.strip(), approver=approver.strip(),
                       signatures=signatures["status"], form="zip" if as_zip else "folder")
    return {"package": str(written), "package_sha256": package_sha, "dossier_sha256": sha, "signatures": signatures["status"],
            "events": sum(1 for e in hist["events"] if not e.get("redacted")), "redacted": sum(1 for e in hist["events"] if e.get("redacted")),
            "anchors": len(hist["anchors"])}


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def _write_folder(out: Path, dossier: Path, files: dict[str, bytes]) -> Path:
    """All files into a hidden sibling folder, verified, then one rename: a package appears whole."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        from dossier_station.core.files import copy_atomic

        copy_atomic(dossier, tmp / dossier.name, expected_sha256=sha256_file(dossier))
        for name, data in files.items():
            write_bytes_atomic(tmp / name, data)
        if out.is_dir():
            out.rmdir()  # an empty folder given as -o
        os.replace(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_zip(out: Path, dossier: Path, files: dict[str, bytes]) -> Path:
    def check(tmp: Path) -> None:
        with zipfile.ZipFile(tmp) as z:
            bad = z.testzip()
            if bad:
                raise CustodyError(f"{out}: {bad} is damaged in the written zip", hint="check the disk")

    with AtomicOutput(out, verify=check) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(dossier, dossier.name, compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            z.writestr(name, data)
    return out
