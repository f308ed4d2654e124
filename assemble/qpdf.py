"""qpdf, the one external program the writer runs: found and version-probed here.

Like tesseract for the OCR, qpdf is wrapped in one module that says which package to install
when it is missing or too old. Its exit status is never taken as proof of a good file: qpdf can
exit 0 when the disk filled up under it, so the caller always reopens and checks what it wrote.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from dossier_station.core.errors import MissingDependencyError

MIN_VERSION = (11, 0)  # --update-from-json with "datafile" streams (JSON v2)
INSTALL_HINT = "install qpdf 11 or newer (Debian/Ubuntu: apt-get install qpdf; macOS: brew install qpdf)"


@cache
def qpdf_version() -> tuple[int, ...]:
    """The installed qpdf's version; :class:`MissingDependencyError` if absent or too old."""
    exe = shutil.which("qpdf")
    if exe is None:
        raise MissingDependencyError("qpdf is not installed (needed to write volumes)", hint=INSTALL_HINT)
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingDependencyError(f"qpdf cannot be run ({exc})", hint=INSTALL_HINT) from None
    m = re.search(r"qpdf version (\d+)\.(\d+)(?:\.(\d+))?", out)
    if not m:
        raise MissingDependencyError(f"qpdf did not report its version ({out.strip()[:80]!r})", hint=INSTALL_HINT)
    version = tuple(int(g) for g in m.groups() if g is not None)
    if version[:2] < MIN_VERSION:
        found = ".".join(map(str, version))
        raise MissingDependencyError(f"qpdf {found} is too old (11.0 or newer is needed)", hint=INSTALL_HINT)
    return version


def update_from_json(skeleton: Path, update: Path, out: Path, *, pdf_1_4: bool) -> subprocess.CompletedProcess[str]:
    """Write ``out`` from ``skeleton`` with the streams named in ``update`` poured in."""
    qpdf_version()
    cmd = [
        "qpdf", str(skeleton), f"--update-from-json={update}",
        "--newline-before-endstream",  # PDF/A: EOL before endstream
        "--object-streams=" + ("disable" if pdf_1_4 else "generate"),
    ]
    cmd += ["--force-version=1.4"] if pdf_1_4 else []
    return subprocess.run([*cmd, str(out)], capture_output=True, text=True)
