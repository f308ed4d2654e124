"""The verify screen's report: signatures, timestamps, PDF/A and custody in plain words.

It runs the station's own checks — ``signing.verify.verify_file`` (what ``dossier verify``
prints) and ``station.custody_verify.verify_custody`` with the dossier (what
``dossier custody verify --dossier`` prints) — and turns their reports into one list of
checks, each green or red with one sentence. The check itself is a custody event (``verified``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dossier_station.core.profile import load_profile

DOSSIER_PROBLEMS = {"missing", "changed", "manifest"}  # about the file; the rest are about the journal


def _check(label: str, ok: bool, detail: str = "") -> dict[str, Any]:
    return {"label": label, "ok": bool(ok), "detail": detail}


def verify_dossier(path: Path, shown_as: str, profile: str | None, trust_files: tuple[Path, ...], operator: str) -> dict[str, Any]:
    from dossier_station.core.custody import VERIFIED
    from dossier_station.signing.verify import verify_file
    from dossier_station.station.custody import record_access, settings_for
    from dossier_station.station.custody_verify import verify_custody
    from dossier_station.station.signing_setup import load_setup
    from dossier_station.ui.edits import operator_journal

    def plain(text: str) -> str:
        return text.replace(str(path.resolve()), shown_as).replace(str(path), shown_as)

    checks: list[dict[str, Any]] = []
    trust = load_setup(profile).trust(trust_files)
    sig = verify_file(path, trust)
    checks.append(_check("PDF/A", bool(sig.pdfa_claim) and not sig.pdfa_violations,
                         (f"PDF/A-{sig.pdfa_claim}" if sig.pdfa_claim else "no PDF/A claim")
                         + (f" — {sig.pdfa_violations[0]}" if sig.pdfa_violations else "")))
    if not trust.roots:
        checks.append(_check("trust", False, "no trusted root certificate: set [signing] trust in the station profile, or give one here"))
    for s in sig.signatures:
        head = "signature" if s.kind == "signature" else "document timestamp"
        words = [f"{head} {s.field} by {s.signer}", "bytes intact" if s.intact else "bytes ALTERED",
                 "certificate revoked" if s.revoked else ("certificate trusted" if s.trusted else "certificate NOT trusted")]
        if s.signing_time:
            words.append(f"time {s.signing_time} ({s.time_source})")
        if s.modifications:
            words.append(f"changes after it: {s.modifications}")
        checks.append(_check(head, s.ok, "; ".join(words + s.problems)))
    for b in sig.biometrics:
        checks.append(_check("biometrics", b["matches_certificate"], f"{b['attachment']}: " + ("matches the event certificate" if b["matches_certificate"] else "MISSING or REPLACED")))
    checks += [_check("file", False, plain(p)) for p in sig.problems]
    with operator_journal(operator) as journal:
        custody = verify_custody(journal, settings_for(load_profile(profile)), dossier=path)
        d = custody.dossier or {}
        matches = d.get("matches", [])
        about_file = [p for p in custody.problems if p.kind in DOSSIER_PROBLEMS]
        chain_problems = [p for p in custody.problems if p.kind not in DOSSIER_PROBLEMS]
        found = "; ".join(f"{m['kind']} #{m['id']} at {m['time']}" for m in matches)
        checks.append(_check("custody", bool(matches) and not about_file,
                             "; ".join([found] * bool(found) + [plain(p.message) for p in about_file])))
        checks.append(_check("journal", not chain_problems, f"{custody.entries} entries, hash chain "
                             + ("intact" if not chain_problems else "BROKEN: " + plain(chain_problems[0].message))))
        checks += [_check("note", True, plain(n)) for n in custody.notes]
        record_access(path, VERIFIED, journal=journal, ok=sig.ok and custody.ok, by="dossier ui", shown_as=shown_as)
    verdict = all(c["ok"] for c in checks if c["label"] != "note")
    return {"file": shown_as, "sha256": sig.sha256, "ok": verdict, "checks": checks}
