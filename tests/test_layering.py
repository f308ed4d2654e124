"""The house rules of docs/ARCHITECTURE.md, checked on the source: imports point down only,
and everything installs under the one ``dossier_station`` import package."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLOORS = {
    "core": 0,
    "devices": 1,
    "capture": 2,
    "ocr": 2,
    "assemble": 2,
    "signing": 2,
    "watch_folders": 2,
    "station": 3,
    "ui": 4,
}
# Same-floor areas that may use each other: capture drives devices' neighbours only through
# devices, so none today. (Listed explicitly so a new exception is a visible decision.)
ALLOWED_SIDEWAYS: set[tuple[str, str]] = set()
GENERIC_NAMES = set(FLOORS)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _area_files():
    for area in FLOORS:
        folder = REPO / area
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                yield area, path


def test_every_import_of_ours_points_down_or_stays_inside_its_own_area():
    wrong = []
    for area, path in _area_files():
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] in GENERIC_NAMES:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module!r} outside dossier_station")
                continue
            if parts[0] != "dossier_station" or len(parts) < 2:
                continue
            target = parts[1]
            if target == area:
                continue
            if FLOORS[target] > FLOORS[area] or (
                FLOORS[target] == FLOORS[area] and (area, target) not in ALLOWED_SIDEWAYS
            ):
                wrong.append(
                    f"{path.relative_to(REPO)}:{line} ({area}, floor {FLOORS[area]}) imports "
                    f"{module} (floor {FLOORS[target]})"
                )
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(wrong)


def test_ground_floor_imports_nothing_of_ours_but_itself():
    for path in sorted((REPO / "core").rglob("*.py")):
        for line, module in _imports(path):
            if module.startswith("dossier_station."):
                assert module.startswith("dossier_station.core"), f"{path}:{line} imports {module}"


def test_wheel_installs_one_import_package():
    conf = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    packages = conf["packages"]
    assert packages and all(p.startswith("dossier_station.") for p in packages)
    for area in FLOORS:
        if (REPO / area / "__init__.py").exists():
            assert conf["package-dir"][f"dossier_station.{area}"] == area
    # every package folder on disk is listed, so none is silently left out of the wheel
    on_disk = {
        "dossier_station." + ".".join(init.parent.relative_to(REPO).parts)
        for area in FLOORS
        if (REPO / area).is_dir()
        for init in (REPO / area).rglob("__init__.py")
    }
    assert on_disk == set(packages)


@pytest.mark.parametrize("name", sorted(GENERIC_NAMES))
def test_no_generic_top_level_module_is_importable_from_the_install(name):
    import importlib.util
    import subprocess
    import sys

    # Run outside the checkout so the working directory is not on sys.path.
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({name!r}) is None else 1)"
    proc = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True)
    assert proc.returncode == 0, f"top-level module {name!r} is importable: the install leaks a generic name"
    assert importlib.util.find_spec(f"dossier_station.{name}") is not None or not (REPO / name).exists()
