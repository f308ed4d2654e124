"""The build pipeline: inputs + case → page stage → volumes → PDF/A files + report.

``build_dossier`` is the one entry point used by ``dossier build``, ``dossier scan --build``
and the hot folders. It checks every input before any work, does the page work in parallel,
and writes each output atomically: a failed build leaves no half-written dossier behind.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dossier_station.core import __version__
from dossier_station.core.errors import BadArgsError, CaseFileError, InputFileError
from dossier_station.core.files import sha256_bytes
from dossier_station.core.profile import Profile, check_keys
from dossier_station.ocr.loader import PageSource, list_input_files, scan_inputs, skipped_inputs
from dossier_station.ocr.page import PageOutcome
from dossier_station.station.custody import after_build, custody_manifest, volume_attachments
from dossier_station.station.pages import (
    CASE_SUFFIXES,
    WarmPool,
    default_jobs,
    many_pages_likely,
    process_pages,
    scan_batch_of,
)
from dossier_station.station.signed_originals import for_volume, signed_originals

OUTPUT_KEYS = {"engine", "jobs", "pdfa", "max_pages", "attach", "images"}


@dataclass
class BuildResult:
    volumes: list[Path]
    report_path: Path
    report: dict[str, Any]
    pages: list[PageOutcome] = field(default_factory=list)

    @property
    def blank_pages(self) -> list[PageOutcome]:
        return [p for p in self.pages if p.blank]


@dataclass(frozen=True)
class BuildOptions:
    engine: str = "rapidocr"
    jobs: int = 0  # 0 = one per core
    pdfa: str = "2b"  # "3b" is chosen automatically when attachments are embedded
    max_pages: int = 200
    attach: bool = True
    images: str = "auto"  # per page from content (ocr.image_policy); "archival" (captured pixels kept) or "compact"
    broker: str | None = None  # redis://… : OCR on the worker pool (station.cluster); else [cluster] broker
    fallback: str | None = None  # "local": build here when the broker or its workers cannot be reached

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: Any) -> BuildOptions:
        section = profile.section("build")
        check_keys(section, OUTPUT_KEYS, "build")
        values = {k: v for k, v in section.items() if k in cls.__dataclass_fields__}
        values.update({k: v for k, v in overrides.items() if v is not None})
        opts = cls(**values)
        if opts.pdfa not in ("1b", "2b", "3b"):
            raise BadArgsError(f"--pdfa {opts.pdfa!r} is not supported", hint="choose 1b, 2b or 3b")
        from dossier_station.ocr.engine import available_engines

        if opts.engine not in available_engines():
            raise BadArgsError(f"unknown OCR engine {opts.engine!r}", hint=f"choose one of: {', '.join(sorted(available_engines()))}")
        if opts.images not in ("auto", "archival", "compact"):
            raise BadArgsError(f"--images {opts.images!r} is not supported", hint="choose auto, archival or compact")
        if opts.max_pages < 1:  # the profile's max_pages was checked when it was loaded
            raise BadArgsError("--max-pages must be at least 1")
        if opts.jobs < 0:
            raise BadArgsError(f"--jobs {opts.jobs}: give the number of pages processed at once", hint="1 or more, or 0 for one per core")
        return opts


@dataclass
class _Inputs:
    sources: list[PageSource]
    case_path: Path | None
    batch_documents: list[dict[str, Any]] | None
    label: str
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # captured pages not built, with why
    separator_cases: list[str] = field(default_factory=list)
    not_used: list[dict[str, str]] = field(default_factory=list)  # folder entries that are not pages, with why


def _resolve_inputs(inputs: Path, case: Path | None) -> _Inputs:
    """Turn the command's arguments into page sources, the case file and any batch split."""
    if inputs.is_file() and inputs.suffix.lower() in CASE_SUFFIXES and case is None:
        case = inputs
        from dossier_station.assemble.case import load_case

        named = load_case(case)  # the one case-file schema; errors before any page is read
        if named.pages_dir:
            inputs = (case.parent / named.pages_dir).resolve()
        else:
            files = [f for row in named.rows for f in row.files or ()]
            if not files:
                raise CaseFileError(
                    f"{case}: the case file does not say where the pages are",
                    hint='add  pages = "DIR"  at the top of the case file, list files per row, or run: dossier build DIR --case case.toml',
                )
            return _Inputs(scan_inputs([(case.parent / f) for f in files]), case, None, case.stem)
    if not inputs.exists():
        raise InputFileError(f"{inputs}: no such file or folder", hint="give a folder of page images, a scanned PDF, or a case file")
    batch_docs = None
    if inputs.is_dir():
        if scan_batch_of(inputs) == inputs:
            from dossier_station.capture.batch import plan_build

            plan = plan_build(inputs)  # every captured page built or set aside with its reason
            sources = scan_inputs([inputs / p["file"] for p in plan.pages])
            _check_batch_hashes(sources, plan.pages)
            sources = _with_clerk_turns(sources, plan.pages)
            return _Inputs(sources, case, plan.documents, inputs.name, plan.set_aside, plan.separator_cases)
        else:
            # the case file may lie among its pages (a hot-folder job folder): it is not a page
            files = [f for f in list_input_files(inputs) if case is None or f.resolve() != case.resolve()]
            if not files:
                raise InputFileError(f"{inputs}: the folder holds no files", hint="put the scanned pages in it")
            sources = scan_inputs(files)
            not_used = [{"file": str(p), "why": why} for p, why in skipped_inputs(inputs) if case is None or p.name != case.name]
            return _Inputs(sources, case, batch_docs, inputs.name, not_used=not_used)
    else:
        sources = scan_inputs([inputs])
    return _Inputs(sources, case, batch_docs, inputs.name if inputs.is_dir() else inputs.stem)


def _with_clerk_turns(sources: list[PageSource], pages: list[dict[str, Any]]) -> list[PageSource]:
    """The quarter turn a clerk set on a page (batch.json ``rotate``) goes with its source."""
    from dataclasses import replace

    turns = {(Path(p["file"]).name): int(p.get("rotate") or 0) % 360 for p in pages}
    return [replace(s, turn=turns.get(s.path.name, 0)) if turns.get(s.path.name) else s for s in sources]


def _check_batch_hashes(sources: list[PageSource], pages: list[dict[str, Any]]) -> None:
    for src, page in zip(sources, pages, strict=True):
        if page.get("sha256") and page["sha256"] != src.sha256:
            raise InputFileError(
                f"{src.path}: SHA-256 differs from batch.json — the raw page was changed after capture",
                hint="restore the original capture; raw pages are evidence and must not be edited",
            )


def _row_indices(case: Any, inputs: _Inputs) -> list[tuple[Any, list[int]]]:
    """Input page indices per catalogue row: from the batch's separators, else the case file."""
    from dossier_station.assemble.case import assign_pages

    if inputs.batch_documents:
        from dossier_station.capture.separators import rows_for_documents

        mapping = rows_for_documents(inputs.batch_documents, case, "batch.json", inputs.separator_cases)
    else:
        mapping = assign_pages(case, [s.key for s in inputs.sources], [s.path.name for s in inputs.sources])
    return mapping


def _safe_name(text: str) -> str:
    bad = '/\\:*?"<>|\0'
    return "".join("_" if c in bad else c for c in text).strip() or "dossier"


def build_dossier(
    inputs: Path,
    case: Path | None,
    out_dir: Path,
    profile: Profile | None = None,
    *,
    options: BuildOptions | None = None,
    on_page: Callable[[PageOutcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_volume: Callable[[int, int, Path], None] | None = None,
) -> BuildResult:
    """Build the dossier of ``inputs`` into ``out_dir``; the OCR workers start at once, while
    the inputs, case file and output folder are being checked (see pages.WarmPool)."""
    profile = profile or Profile()
    opts = options or BuildOptions.from_profile(profile)
    started = time.perf_counter()
    from dossier_station.station.cluster import cluster_settings

    here = cluster_settings(profile, opts.broker, opts.fallback) is None  # else the pool's machines read the pages
    with WarmPool(opts.engine, (opts.jobs or default_jobs()) if here and many_pages_likely(Path(inputs)) else 1) as warm:
        return _build(inputs, case, out_dir, profile, opts, started, warm, on_page=on_page, on_start=on_start, on_volume=on_volume)


def _build(
    inputs: Path,
    case: Path | None,
    out_dir: Path,
    profile: Profile,
    opts: BuildOptions,
    started: float,
    warm: WarmPool,
    *,
    on_page: Callable[[PageOutcome], None] | None,
    on_start: Callable[[int], None] | None,
    on_volume: Callable[[int, int, Path], None] | None,
) -> BuildResult:
    resolved = _resolve_inputs(Path(inputs), Path(case) if case else None)

    from dossier_station.assemble.case import default_case, load_case
    from dossier_station.core.model import Attachment
    case_model = load_case(resolved.case_path) if resolved.case_path else default_case(resolved.label, len(resolved.sources))
    row_indices = _row_indices(case_model, resolved)  # case errors before minutes of OCR
    jobs = opts.jobs or default_jobs()
    from dossier_station.station.cluster import page_executor

    executor = page_executor(profile, opts.broker, opts.fallback)  # None: this machine's cores
    from dossier_station.station.build_outputs import BuildSession

    # -o checked, folder locked, a killed build's leftovers cleared, journal checked: before OCR
    page_folders = {s.path.parent for s in resolved.sources} if Path(inputs).is_dir() or Path(inputs).suffix.lower() in CASE_SUFFIXES else set()
    with BuildSession(out_dir, page_folders=page_folders) as session:
        if on_start:
            on_start(len(resolved.sources))
        work = session.work
        writer_ready = _WriterReady()
        outcomes = list(process_pages(resolved.sources, work, engine=opts.engine, jobs=min(jobs, len(resolved.sources)), images=opts.images, on_done=on_page, executor=executor, warm=warm, on_tail=writer_ready.start))
        writer_ready.wait()
        from dossier_station.assemble.writer import split_volumes, write_volume

        session.embed_hashed_bytes(outcomes)  # the bytes embedded are the bytes hashed
        _settle_born_digital(outcomes, opts.pdfa, work)  # kept as vector pages, or why not: before the report is made
        documents = [(row, [outcomes[i].spec for i in idx if outcomes[i].spec is not None]) for row, idx in row_indices]
        row_blanks = {row.seq: sum(outcomes[i].blank for i in idx) for row, idx in row_indices}
        volumes = split_volumes(documents, max_pages=opts.max_pages)
        stem = _safe_name(case_model.fields.case_number or case_model.fields.case_name or resolved.label)
        report = _report(case_model, resolved, outcomes, opts, jobs)
        report["summary"]["kept_born_digital"] = [o.key for o in outcomes if o.kept_vector]
        attachments = []
        originals = signed_originals(resolved.sources) if opts.attach and opts.pdfa != "1b" else {}
        report["signed_originals"] = [{"file": Path(k).name, "attachment": a.name, "sha256": sha256_bytes(a.data)} for k, a in originals.items()]
        if opts.attach:
            if resolved.case_path:
                attachments.append(Attachment(resolved.case_path.name, resolved.case_path.read_bytes(), "application/toml" if resolved.case_path.suffix == ".toml" else "application/json", "案件描述 case description", "/Source"))
            attachments.append(Attachment("build-report.json", json.dumps(report, ensure_ascii=False, indent=1).encode(), "application/json", "构建报告 build report", "/Supplement"))
            attachments.append(custody_manifest(outcomes, volumes, report, profile))  # before any signature
        pdfa = "3b" if attachments and opts.pdfa != "1b" else opts.pdfa
        if opts.pdfa == "1b":
            attachments = []  # PDF/A-1 forbids embedded files
        paths: list[Path] = []
        results = []
        for n, vol in enumerate(volumes, start=1):
            name = f"{stem}.pdf" if len(volumes) == 1 else f"{stem}-第{n}卷.pdf"
            blanks = sum(row_blanks.pop(row.seq, 0) for row, _ in vol)  # counted in a row's first volume
            result = write_volume(case_model, vol, n, len(volumes), out_dir / name, pdfa=pdfa, attachments=volume_attachments(attachments, n) + for_volume(originals, vol),
                                  blank_pages=blanks, output=session.output(out_dir / name), work_dir=work)
            paths.append(result.path)
            results.append(result)
            if on_volume:  # volume n of N written (the UI shows 卷 n / N)
                on_volume(n, len(volumes), result.path)
        elapsed = time.perf_counter() - started
        report["volumes"] = [
            {
                "file": r.path.name,
                "sha256": session.sha256(r.path),  # of the verified bytes that are put in place
                "volume": r.volume_no,
                "numbered_pages": r.numbered_pages,
                "total_pages": r.total_pages,
                "rows": [{"seq": s, "first": a, "last": b} for s, a, b in r.row_pages],
            }
            for r in results
        ]
        page_no = {key: (r.volume_no, num) for r in results for key, num in r.page_numbers}
        for rec in report["pages"]:
            vol, num = page_no.get(rec["key"], (None, None))
            rec["volume"], rec["page_number"] = vol, num
        report["qc"] = quality_checks(outcomes, row_indices)
        report["seconds"] = round(elapsed, 2)
        report["pages_per_minute"] = round(len(outcomes) / elapsed * 60, 1) if elapsed else None
        report_path = out_dir / f"{stem}.report.json"
        _set_aside_blanks(outcomes, out_dir, session)
        session.write_report(report_path, report)
        session.commit(_journal_events(report, paths, report_path, resolved))  # intent → place → done
        after_build([*paths, report_path], out_dir, profile)  # custody: anchor the head, copy to the mirrors
    return BuildResult(paths, report_path, report, outcomes)


class _WriterReady:
    """The volume writer made ready (its modules imported, the font read) in a thread while
    the last pages are being read: a core is free then, and the volume is written sooner."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._prepare, name="writer-ready", daemon=True)
        self._thread.start()

    @staticmethod
    def _prepare() -> None:
        from dossier_station.assemble.writer import prepare

        with contextlib.suppress(Exception):  # only a head start: the writer reports its own errors
            prepare()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _settle_born_digital(outcomes: list[PageOutcome], pdfa: str, work: Path) -> None:
    """Born-digital pages go in as the PDF pages themselves when PDF/A allows them as they are;
    the writer asks the same (cached) question, so the report says what the volume holds."""
    from dossier_station.assemble.imported_page import SourcePdfs
    from dossier_station.ocr.page import settle_vector_page

    with SourcePdfs(work) as sources:
        for o in outcomes:
            if o.spec is not None and o.spec.imported is not None:
                settle_vector_page(o, sources.refusal(o.spec.imported, pdfa, o.spec.source))


def _journal_events(report: dict[str, Any], paths: list[Path], report_path: Path, inputs: _Inputs) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """One custody-log entry per volume: its hash, and the hashes of the pages it was built from."""
    pages = [{"key": p["key"], "sha256": p["sha256"], "page_number": p["page_number"], "blank": p["blank"]} for p in report["pages"]]
    return [
        ("build", str(path.resolve()), vol["sha256"],
         {"case_file": str(inputs.case_path) if inputs.case_path else None, "report": str(report_path.resolve()), "volume": vol["volume"], "pages": pages})
        for path, vol in zip(paths, report["volumes"], strict=True)
    ]


LOW_OCR_CONFIDENCE = 0.85
MIN_DPI = 200  # DA/T 31-2017 §9.4


def quality_checks(outcomes: list[PageOutcome], row_indices: list[tuple[Any, list[int]]]) -> list[dict[str, str]]:
    """What a checker (检查人) should look at before filing: the machine-checkable DA/T 31 items.

    Nothing here stops the build; each item names the page (or row) and why.
    """
    items = []
    for o in outcomes:
        if o.dpi < MIN_DPI:
            items.append({"page": o.key, "issue": f"{o.dpi:g} dpi is below DA/T 31's minimum of {MIN_DPI} dpi: rescan"})
        if o.blank:
            continue
        if o.lines == 0:
            items.append({"page": o.key, "issue": "no text found on a non-blank page: check it is legible and upright"})
        elif o.ocr_confidence < LOW_OCR_CONFIDENCE:
            items.append({"page": o.key, "issue": f"low OCR confidence {o.ocr_confidence:.2f}: check legibility (rescan at 300 dpi?)"})
        if not o.deskew_applied and not o.born_digital:  # a born-digital page is level as made
            items.append({"page": o.key, "issue": "skew could not be measured (no clear text lines): check it is straight"})
    for row, idx in row_indices:
        if idx and all(outcomes[i].blank for i in idx):
            items.append({"row": str(row.seq), "issue": f"catalogue row {row.seq} ({row.title}) has only blank pages"})
    return items


def _set_aside_blanks(outcomes: list[PageOutcome], out_dir: Path, session: Any) -> None:
    """Copy blank pages (never numbered, never dropped silently) to ``set-aside/`` for review,
    as they were hashed, placed together with the volumes."""
    aside = out_dir / "set-aside"
    for o in outcomes:
        if o.blank:
            src = Path(o.source)
            session.set_aside(src, aside / (o.key.replace("#", "-p") + ("" if o.key.endswith(src.suffix) else src.suffix)), o.sha256)


def _report(case: Any, inputs: _Inputs, outcomes: list[PageOutcome], opts: BuildOptions, jobs: int) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "format": "dossier-build-report/1",
        "generator": f"dossier-station {__version__}",
        "created": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "case_file": str(inputs.case_path) if inputs.case_path else None,
        "case": asdict(case.fields) if hasattr(case.fields, "__dataclass_fields__") else {},
        "options": {"engine": opts.engine, "jobs": jobs, "pdfa": opts.pdfa, "max_pages": opts.max_pages, "images": opts.images},
        "summary": {
            "pages_in": len(outcomes),
            "blank_set_aside": sum(o.blank for o in outcomes),
            "turned": sum(1 for o in outcomes if o.rotation_deg),
            "mean_ocr_confidence": round(sum(o.ocr_confidence for o in outcomes if not o.blank) / max(1, sum(not o.blank for o in outcomes)), 4),
        },
        "pages": [o.report() for o in outcomes],
        "set_aside_at_capture": inputs.set_aside,
        "inputs_not_used": inputs.not_used,
    }
