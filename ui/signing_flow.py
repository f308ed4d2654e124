"""The officer's signing screen (讯问笔录): transcript → pads → confirm → signed file → verified.

Composes the station's own steps, as ``dossier sign TRANSCRIPT --pen P --finger P`` does:
``station.signing_ceremony.capture_now`` (the pads, bound to the transcript's SHA-256),
``ceremony_config`` + ``run_ceremony`` (event certificate, PAdES signature, escrow), a ``sign``
journal entry, then the verify screen's checks on the signed file. Between capture and signing
the officer sees the signature and the fingerprint and chooses Confirm or Retry (the job thread
waits for that choice). The pads' progress lines stream to the browser as events.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError, DeviceError
from dossier_station.core.files import sha256_file
from dossier_station.core.profile import load_profile

DECISION_TIMEOUT_S = 600.0


@dataclass
class Decision:
    """The officer's answer after a capture: ``confirm`` or ``retry``."""

    event: threading.Event = field(default_factory=threading.Event)
    choice: str = ""

    def wait(self) -> str:
        if not self.event.wait(DECISION_TIMEOUT_S):
            raise DeviceError("no confirmation within 10 minutes: nothing was signed", hint="start the signing again")
        self.event.clear()
        return self.choice

    def give(self, choice: str) -> None:
        if choice not in ("confirm", "retry"):
            raise BadArgsError(f"unknown choice {choice!r}")
        self.choice = choice
        self.event.set()


class LiveReport:
    """The pads' reporter: step lines as ``sign`` events, and the pen's samples as ``ink`` events
    (every ~50 ms, position as a fraction of the pad, pen-down or not) for the live drawing."""

    FLUSH_S = 0.05

    def __init__(self, publish: Callable[[dict[str, Any]], None]) -> None:
        self.publish = publish
        self.points: list[list[float]] = []
        self.flushed = 0.0

    def __call__(self, level: str, message: str) -> None:
        self.flush()
        self.publish({"type": "sign", "level": level, "message": message})

    def on_ink(self, caps: Any, batch: list[Any]) -> None:
        import time

        mx, my = max(1, caps.max_x), max(1, caps.max_y)
        self.points += [[round(s.packet.x / mx, 4), round(s.packet.y / my, 4), 1 if s.ink else 0] for s in batch]
        if time.monotonic() - self.flushed >= self.FLUSH_S:
            self.flush()

    def flush(self) -> None:
        import time

        if self.points:
            self.publish({"type": "ink", "points": self.points})
            self.points = []
        self.flushed = time.monotonic()


def describe(transcript: Path) -> dict[str, Any]:
    import pikepdf

    with pikepdf.open(transcript) as pdf:
        pages = len(pdf.pages)
        title = str(pdf.docinfo.get("/Title", transcript.name))
    return {"pages": pages, "title": title, "sha256": sha256_file(transcript)}


def run_signing(folder: Path, *, signer: str, id_number: str, operator: str, profile: str | None, emulated_pads: bool,
                software_key: bool, decision: Decision, publish: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    from dossier_station.capture.signature import SignatureCaptureOptions
    from dossier_station.station.signing_ceremony import capture_now, ceremony_config, run_ceremony
    from dossier_station.station.signing_setup import load_setup
    from dossier_station.ui.edits import operator_journal

    if not signer.strip() or not id_number.strip():
        raise BadArgsError("the signer's name and ID number are needed", hint="fill both fields")
    document = folder / "transcript.pdf"
    sha = sha256_file(document)
    setup = load_setup(profile)
    cfg = ceremony_config(setup, trust_files=(), tsa=None, software_key=software_key, escrow_cert=None)  # before the suspect signs

    report = LiveReport(publish)

    import asyncio
    import contextlib

    with contextlib.ExitStack() as stack:
        ports: dict[str, str] = {}
        if emulated_pads:  # demo / tests: the ISDV4 and ZFM emulators on pseudo-terminals
            from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
            from dossier_station.devices.emulators.pen import PenEmulator

            pen = stack.enter_context(PenEmulator(speed=3.0).start())
            finger = stack.enter_context(FingerprintEmulator(finger_delay=0.5).start())
            ports = {"pen_port": pen.port, "finger_port": finger.port, "pen_idle": 0.4}
        opts = SignatureCaptureOptions.from_profile(load_profile(profile), signer=signer, operator=operator, **ports)
        while True:
            report.publish({"type": "pad", "clear": True})
            capture, done = capture_now(opts, document, sha, report)
            report.flush()
            publish({"type": "captured", "signature": _data_url(capture.signature_png), "fingerprint": _data_url(capture.fingerprint_png)})
            if decision.wait() == "confirm":
                break
            report("status", "retry: the signer signs again")
    report("status", "signing the transcript…")
    out = folder / "signed.pdf"
    result = asyncio.run(run_ceremony(document, out, signer=signer, id_number=id_number, capture=capture, cfg=cfg,
                                      at=None, anchor=None, capture_done=done))
    with operator_journal(operator) as j:
        j.record("sign", str(out.resolve()), result.sha256, source=str(document.resolve()), source_sha256=sha, signer=signer,
                 event_cert_serial=result.event_cert_serial, software_key=result.software_key, by="dossier ui")
    from dossier_station.ui.verifying import verify_dossier

    report_ = verify_dossier(out, "signed.pdf", profile, (), operator)
    return {"sha256": result.sha256, "software_key": result.software_key, "verify": report_}


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
