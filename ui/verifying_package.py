"""The verify screen's report for a transfer package (调卷 .zip), check by check.

It runs what ``dossier import PKG`` runs before accepting anything —
``station.transfer_import._unpack`` (member names checked: no paths, no links, each once) into a
temporary folder the server chooses, then ``check_package`` (package listing and hashes, custody
chain, RFC 3161 anchors, the dossier's embedded manifest, signatures) — and sorts its reasons
into one line per check, green or red. Nothing is imported: the verification is only recorded
(``verified``, ``action=verify-package``) in the custody journal, as ``import`` records a refusal.
Why sort reasons instead of re-checking: the clerk must see exactly the verdict ``dossier
import`` would give, so the station's own checks decide and this module only words them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from dossier_station.ui.verifying import _check

CHECKS = ("package", "chain", "anchors", "manifest", "signatures")


def _kind(reason: str) -> str:
    """Which check a reason of ``check_package`` belongs to (by the wording it uses)."""
    r = reason.lower()
    if "custody history" in r or "custody.json" in r or "another dossier" in r:
        return "chain"
    if r.startswith("anchor over entry"):
        return "anchors"
    if r.startswith("signatures"):
        return "signatures"
    if "manifest" in r:
        return "manifest"
    return "package"


def verify_package(zip_path: Path, shown_as: str, profile: str | None, trust_file: Path | None, operator: str) -> dict[str, Any]:
    from dossier_station.core.custody import VERIFIED, CustodyError
    from dossier_station.core.files import sha256_file
    from dossier_station.core.profile import load_profile
    from dossier_station.station.custody import settings_for
    from dossier_station.station.transfer_import import _unpack, check_package
    from dossier_station.ui.edits import operator_journal

    def plain(text: str) -> str:
        return text.replace(str(zip_path.resolve()), shown_as).replace(str(zip_path), shown_as).strip().removeprefix("✗ ")

    settings = settings_for(load_profile(profile))
    reasons: dict[str, list[str]] = {k: [] for k in CHECKS}
    result: dict[str, Any] | None = None
    stopped = ""
    with tempfile.TemporaryDirectory(prefix=".verify-package-") as work:
        try:
            folder = _unpack(zip_path, Path(work))
            result = check_package(folder, zip_path, settings, trust_file)
        except CustodyError as exc:
            lines = [plain(line) for line in exc.message.splitlines()]
            listed = [line for line in lines[1:] if line]
            if not listed:  # refused before any check: not a readable zip, or an unexpected entry
                reasons["package"].append(lines[0])
            for line in listed:
                reasons[_kind(line)].append(line)
            if reasons["package"]:
                stopped = "not checked: the package's own files do not hold (see above)"
    checks: list[dict[str, Any]] = []
    for key in CHECKS:
        if reasons[key]:
            checks.append(_check(key, False, "; ".join(reasons[key])))
        elif stopped:
            checks.append(_check(key, False, stopped))
        else:
            checks.append(_check(key, True, _ok_words(key, result or {})))
    if result and result.get("note"):
        checks.append(_check("note", True, str(result["note"])))
    ok = all(c["ok"] for c in checks)
    sha = sha256_file(zip_path)
    with operator_journal(operator) as journal:
        journal.record(VERIFIED, shown_as, sha, action="verify-package", accepted=ok, by="dossier ui",
                       reasons=[c["detail"] for c in checks if not c["ok"]])
    return {"file": shown_as, "sha256": sha, "ok": ok, "checks": checks, "package": True}


def _ok_words(key: str, r: dict[str, Any]) -> str:
    """One plain sentence for a check that held."""
    pkg = r.get("package", {})
    if key == "package":
        req = pkg.get("request", {})
        return (f"{len(pkg.get('files', []))} files, each as listed (SHA-256); request {req.get('number')} "
                f"by {req.get('requester')}, approved by {req.get('approver')}; dossier {r.get('dossier_name')}")
    if key == "chain":
        events = r.get("history", {}).get("events", [])
        redacted = sum(1 for e in events if e.get("redacted"))
        return f"{len(events)} entries link by link ({redacted} of other cases redacted to their hash), the dossier's own entries among them"
    if key == "anchors":
        anchors = r.get("anchors", [])
        if not anchors:
            return "no anchor in the package"
        return "; ".join(f"entry {a['event_id']} timestamped {a['gen_time']} by {a['tsa']}" + ("" if a["trusted"] else " (TSA not in the trust list)")
                         for a in anchors)
    if key == "manifest":
        return "the dossier's embedded custody manifest agrees with the sending station's history"
    sig = r.get("signatures", {})
    status = sig.get("status")
    return {"valid": "every signature intact and trusted", "unsigned": "the dossier carries no signature"}.get(
        str(status), f"{status}: {sig.get('reason', '')}")
