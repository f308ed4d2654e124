"""One typed model per table of the station profile.

Adding a table is a few lines here — subclass :class:`ProfileTable`, decorate with
:func:`profile_table`, give each key a type and a default::

    @profile_table("watch")
    class WatchTable(ProfileTable):
        \"\"\"[watch]: hot folders.\"\"\"
        folders: list[str] = []
        stable_seconds: float = Field(2.0, gt=0)

then regenerate the published schema (``dossier schema -o docs/schemas``; a test checks it is
current), and read it with ``load_profile(p).table("watch")`` (a validated ``WatchTable``; defaults when
the profile has no such table). ``Profile.section("watch")`` keeps returning the raw dict of
the keys actually written, for callers that need to know what was set.

Why strict models: a profile is written by hand, once, by someone who then trusts it for
months. ``jobs = "two"``, ``max_pages = 2.5``, ``attach = "yes"`` or a misspelt ``[biuld]`` must
stop the station at start-up, naming the table and key, before any scanning or OCR — never be
taken as a default or found out after an hour of work.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from dossier_station.core.formats.validation import STRICT

T = TypeVar("T", bound="ProfileTable")

TABLES: dict[str, type[ProfileTable]] = {}


class ProfileTable(BaseModel):
    """Base of every profile table: strict types, unknown keys rejected, immutable."""

    model_config = STRICT


def profile_table(name: str):  # type: ignore[no-untyped-def]
    """Register a table model under its TOML name (``[name]``)."""

    def register(cls: type[T]) -> type[T]:
        if name in TABLES and TABLES[name] is not cls:
            raise RuntimeError(f"profile table [{name}] registered twice")
        TABLES[name] = cls
        return cls

    return register


@profile_table("build")
class BuildTable(ProfileTable):
    """[build]: how ``dossier build`` (and scan --build, hot folders) makes a dossier."""

    engine: str = Field("rapidocr", min_length=1, description="OCR engine: rapidocr or tesseract")
    jobs: int = Field(0, ge=0, description="page workers; 0 = one per core")
    pdfa: Literal["1b", "2b", "3b"] = Field("2b", description="PDF/A part and level")
    max_pages: int = Field(200, ge=1, description="numbered pages per volume")
    attach: bool = Field(True, description="embed case file and build report (PDF/A-3b)")
    images: Literal["auto", "archival", "compact"] = Field("auto", description="image policy")


@profile_table("scanner")
class ScannerTable(ProfileTable):
    """[scanner]: defaults for ``dossier scan``."""

    device: str | None = Field(None, description="SANE device name, e.g. fujitsu:fi-7160:1234")
    dpi: int = Field(300, ge=50, le=2400)
    mode: Literal["color", "gray", "lineart"] = "color"
    source: Literal["flatbed", "adf", "adf-duplex"] = "adf"
    page: str | None = Field(None, description="A4, A3, letter, legal, 16k or WIDTHxHEIGHT in mm",
                             pattern=r"^([Aa][34]|[Ll]etter|[Ll]egal|16[Kk]|\d+(\.\d+)?[xX]\d+(\.\d+)?)$")
    brightness: int | None = None
    contrast: int | None = None
    source_names: dict[str, dict[str, str]] = Field(
        default_factory=dict, description='per-model vendor source names: {"fi-7160" = {adf-duplex = "ADF Duplex"}}'
    )
    timeout: float = Field(60.0, gt=0, description="seconds to wait for the scanner")
    require_colour: bool = Field(False, description="warn when scanning other than colour (DA/T 31 §9.3)")


@profile_table("pads")
class PadsTable(ProfileTable):
    """[pads]: the signing ceremony's pen and fingerprint sensor."""

    pen_port: str = ""
    finger_port: str = ""
    pen_baud: int | None = Field(None, gt=0, description="only this baud, no fallback")
    finger_baud: int | None = Field(None, gt=0)
    finger_password: int | None = Field(None, ge=0, le=0xFFFFFFFF)
    attempts: int | None = Field(None, ge=1)
    pen_timeout: float | None = Field(None, gt=0)
    pen_idle: float | None = Field(None, gt=0)
    finger_timeout: float | None = Field(None, gt=0)
    min_ink_points: int | None = Field(None, ge=0)
    min_ink_length_mm: float | None = Field(None, ge=0)
    station: str | None = None
    operator: str | None = None


@profile_table("cluster")
class ClusterTable(ProfileTable):
    """[cluster]: a digitisation centre's worker pool (docs/cluster.md); no broker = this machine's cores."""

    broker: str | None = Field(None, description="redis://HOST:6379/0 or rediss://… (may carry a password; never printed)")
    fallback: Literal["none", "local"] = Field("none", description="local: build here when the broker or its workers are unreachable")
    shared: str | None = Field(None, description="the shared folder pages and results travel through, as this machine mounts it")
    redis_page_limit_mb: int = Field(16, ge=1, le=512, description="largest page sent through Redis when there is no shared folder")
    secret_file: str | None = Field(None, description="file holding the HMAC key station and workers share (signed tasks)")


@profile_table("signing")
class SigningTable(ProfileTable):
    """[signing]: keys, services and levels for `dossier sign`, `seal`, `build --seal` (docs/signing.md).

    Paths are relative to the profile's folder. PINs never appear here: they come from the
    environment variable ``pin_env`` names, or a terminal prompt.
    """

    ca: str | None = Field(None, description="issuing CA for event certificates: PKCS#12 file")
    crl_url: str | None = Field(None, description="CRL distribution point written into event certificates")
    tsa_url: str | None = Field(None, description="RFC 3161 timestamp authority (http://…)")
    escrow_cert: str | None = Field(None, description="RSA certificate the biometric capture is encrypted to")
    seal: str | None = Field(None, description="unit seal key: PKCS#12 file or pkcs11: URI")
    seal_unit: str = Field("", description="unit name drawn on the seal image")
    seal_image: str | None = Field(None, description="PNG of the unit seal (default: drawn from seal_unit)")
    trust: list[str] = Field([], description="trusted root certificate files (PEM/DER)")
    event_token: str | None = Field(None, description="pkcs11: URI of the token where event keys are generated")
    pkcs11_module: str | None = Field(None, description="PKCS#11 module (default SoftHSM2)")
    pin_env: str = Field("DOSSIER_PIN", min_length=1, description="environment variable holding the PIN")
    level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = Field("B-T", description="PAdES level of a signature")
    seal_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = Field("B-LTA", description="PAdES level of a seal")
    event_minutes: int = Field(10, ge=1, le=1440, description="validity of an event certificate")
    location: str | None = Field(None, description="location written into signatures")


@profile_table("station")
class StationTable(ProfileTable):
    """[station]: who records each custody event (``$DOSSIER_OPERATOR`` overrides the operator)."""

    id: str | None = Field(None, min_length=1, description="this station's name in the journal (default: host name)")
    operator: str | None = Field(None, min_length=1, description="operator on duty (default: the OS user)")


@profile_table("custody")
class CustodyTable(ProfileTable):
    """[custody]: mirrors and the TSA that anchors the journal (docs/custody.md)."""

    mirrors: list[str] = Field([], description="folders every output is copied to (local or mounted shares)")
    tsa: str | None = Field(None, description="RFC 3161 TSA for anchors (default: [signing] tsa_url)")
    tsa_trust: str | None = Field(None, description="root certificate (PEM) of that TSA, to check anchors")
    anchor_hours: float = Field(24.0, gt=0, description="a running station anchors at least this often")


class WatchFolderTable(ProfileTable):
    """One ``[[watch.folders]]`` entry; unset keys take the ``[watch]`` value."""

    hot: str = Field(min_length=1, description="the hot folder (relative paths: to the profile's folder)")
    output: str = Field(min_length=1, description="its output folder: done/, failed/, the log, the state")
    name: str = Field("", description="label in the log and status")
    poll: float | None = Field(None, ge=0, description="0 = filesystem events; N = poll every N seconds")
    stable: float | None = Field(None, ge=0, description="seconds unchanged before a file is taken")
    max_bytes: int | None = Field(None, ge=1, description="largest job in bytes")
    max_pages: int | None = Field(None, ge=1, description="most pages in one job")
    max_attempts: int | None = Field(None, ge=1, description="crashes on one job before it goes to failed/")
    profile: str | None = Field(None, description="station profile whose [build] this folder's jobs use")
    case_template: str | None = Field(None, description="case file for single-file jobs and folders without one")
    mirrors: list[str] | None = Field(None, description="folders each done job is copied to")


@profile_table("watch")
class WatchTable(ProfileTable):
    """[watch]: hot folders (docs/watch-folders.md); defaults for every ``[[watch.folders]]``."""

    poll: float = Field(0.0, ge=0, description="0 = filesystem events; N = poll every N seconds")
    stable: float = Field(5.0, ge=0, description="seconds unchanged before a file is taken")
    workers: int = Field(1, ge=1, description="jobs at once (whole daemon)")
    max_bytes: int = Field(2 << 30, ge=1, description="largest job in bytes")
    max_pages: int = Field(2000, ge=1, description="most pages in one job")
    max_attempts: int = Field(3, ge=1, description="crashes on one job before it goes to failed/")
    profile: str | None = Field(None, description="station profile whose [build] the jobs use")
    case_template: str | None = Field(None, description="case file for single-file jobs and folders without one")
    mirrors: list[str] = Field([], description="folders each done job is copied to")
    log: str | None = Field(None, description="JSON-lines operator log (default OUT/watch-log.jsonl)")
    folders: list[WatchFolderTable] = Field([], description="one table per hot folder")
