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

AREA_MODULES = (
    "dossier_station.station.cli_build",
    "dossier_station.station.cli_demo",
    "dossier_station.station.cli_doctor",
    "dossier_station.station.cli_journal",
    "dossier_station.station.cli_custody",
    "dossier_station.station.cli_scan",
    "dossier_station.station.cli_pads",
    "dossier_station.station.cli_watch",
    "dossier_station.station.cli_sign",
    "dossier_station.station.cli_pki",
    "dossier_station.ui.cli",
    "dossier_station.station.cli_worker",
    "dossier_station.station.cli_schema",
)

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
        self._load_areas()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_areas()
        return super().list_commands(ctx)


@click.group(cls=_AreaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dossier")
def cli() -> None:
    """Turn paper case files and interrogation-room signatures into court-ready e-dossiers."""


def _register_areas() -> None:
    for name in AREA_MODULES:
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
