"""The dossier command finds each command in its own area module, and only loads what it runs."""

from __future__ import annotations

import importlib
import subprocess
import sys

from dossier_station.station.cli import AREAS


def test_the_command_table_names_every_command_of_every_area_module():
    for module_name, names in AREAS.items():
        module = importlib.import_module(module_name)
        assert tuple(c.name for c in module.COMMANDS) == names, module_name


def test_running_one_command_imports_only_its_own_area():
    probe = (
        "import sys\n"
        "from dossier_station.station.cli import cli\n"
        "assert cli.get_command(None, 'build') is not None\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('dossier_station.station.cli_') or m == 'dossier_station.ui.cli')\n"
        "print(' '.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["dossier_station.station.cli_build"]


def test_help_still_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "dossier_station.station", "--help"], capture_output=True, text=True, check=True).stdout
    for names in AREAS.values():
        for name in names:
            assert f"  {name} " in out or f"  {name}\n" in out, name
