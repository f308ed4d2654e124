"""The ``dossier`` command: one click group; each area contributes its commands.

Area modules (``station.cli_build``, ``station.cli_scan``, ``station.cli_pads``…) each expose
``COMMANDS``, a list of click commands. Keeping them apart lets the scanner, pad and pipeline
commands grow without editing one shared file.
"""

from __future__ import annotations

import errno
import importlib
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from dossier_station.core import __version__
from dossier_station.core.errors import DossierError, ExitCode

# Each area module and the commands it defines: ``dossier build`` imports only cli_build (a
# build's workers wait for the station to start them; importing every area cost 0.7 s).
# tests/test_cli_areas.py checks this table against the modules themselves.
AREAS: dict[str, tuple[str, ...]] = {
    "dossier_station.station.cli_build": ("build",),
    "dossier_station.station.cli_demo": ("demo",),
    "dossier_station.station.cli_doctor": ("doctor",),
    "dossier_station.station.cli_journal": ("journal",),
    "dossier_station.station.cli_custody": ("custody", "mirror", "export", "import"),
    "dossier_station.station.cli_scan": ("scan", "scanners", "separator"),
    "dossier_station.station.cli_pads": ("pads", "capture-signature"),
    "dossier_station.station.cli_watch": ("watch",),
    "dossier_station.station.cli_sign": ("sign", "verify", "biometrics", "seal"),
    "dossier_station.station.cli_pki": ("pki",),
    "dossier_station.ui.cli": ("ui",),
    "dossier_station.station.cli_worker": ("worker", "workers"),
    "dossier_station.station.cli_schema": ("schema",),
}
AREA_MODULES = tuple(AREAS)

err_console = Console(stderr=True, highlight=False)


class _AreaGroup(click.Group):
    """The top-level group, filled from AREA_MODULES when a command is first looked up.

    Not at import: the OCR worker processes of a build are spawned, and each re-imports the
    ``dossier`` script's module; registering every area there (signing, UI, cluster …) cost
    half a second per worker for commands a worker never runs.
    """

    _areas_loaded = False

    def _load_areas(self) -> None:
        if not self._areas_loaded:
            type(self)._areas_loaded = True
            _register_areas()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            home = next((m for m, names in AREAS.items() if cmd_name in names), None)
            if home is not None:
                _register_areas((home,))
            if cmd_name not in self.commands:  # unknown, or an area's command not in the table
                self._load_areas()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_areas()
        return super().list_commands(ctx)


@click.group(cls=_AreaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dossier")
def cli() -> None:
    """Turn paper case files and interrogation-room signatures into court-ready e-dossiers."""


def _register_areas(names: tuple[str, ...] = AREA_MODULES) -> None:
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # area not built yet: its commands are simply absent
                continue
            raise
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)



def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group, turn our exceptions into a message and an exit code."""
    try:
        cli.main(args=argv, prog_name="dossier", standalone_mode=False)
    except DossierError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(int(exc.exit_code))
    except (click.exceptions.Abort, KeyboardInterrupt):
        # Only the command knows what it kept (a scan keeps its pages; a build keeps nothing,
        # its files appear only when it completes): each says so itself before this.
        err_console.print("interrupted")
        sys.exit(int(ExitCode.ctrl_c))
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:
            _internal_error()
        # a disk that filled up or went read-only under us (e.g. the work folder during OCR)
        from dossier_station.core.files import describe_os_error

        err = describe_os_error(exc, Path(exc.filename) if exc.filename else Path("(output)"))
        err_console.print(f"[bold red]error:[/] {escape(str(err))}")
        sys.exit(int(err.exit_code))
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.bad_args) if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception:  # a bug of ours: keep the traceback for the report, exit distinctly
        _internal_error()


DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _internal_error() -> None:
    err_console.print_exception()
    err_console.print("[bold red]internal error[/]: please report it with the traceback above")
    sys.exit(int(ExitCode.other_error))
