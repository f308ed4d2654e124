"""One exception family for every failure a user can cause or meet.

Each error says which file, page or field is wrong and what to do; the CLI maps the class to
an exit code (the shape of OCRmyPDF's ``ExitCode``) so scripts and hot-folder watchers can
tell a bad input from a missing program from a device fault.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    ok = 0
    bad_args = 1
    input_file = 2
    missing_dependency = 3
    invalid_output_pdf = 4
    file_access_error = 5
    encrypted_pdf = 8
    invalid_config = 9
    device_error = 10
    device_not_found = 11
    busy = 12
    other_error = 15
    ctrl_c = 130


class DossierError(Exception):
    """Base of every user-facing error; ``str(err)`` is the whole message for the clerk."""

    exit_code = ExitCode.other_error

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class BadArgsError(DossierError):
    exit_code = ExitCode.bad_args


class InputFileError(DossierError):
    """An input file is unreadable, truncated, too large, or of an unsupported kind."""

    exit_code = ExitCode.input_file


class EncryptedPdfError(InputFileError):
    exit_code = ExitCode.encrypted_pdf


class CaseFileError(DossierError):
    """The case description is wrong or disagrees with the pages found; names row and field."""

    exit_code = ExitCode.invalid_config


class ProfileError(DossierError):
    exit_code = ExitCode.invalid_config


class MissingDependencyError(DossierError):
    """An external program or package is not installed; the message names the package."""

    exit_code = ExitCode.missing_dependency


class OutputError(DossierError):
    exit_code = ExitCode.invalid_output_pdf


class FileAccessError(DossierError):
    exit_code = ExitCode.file_access_error


class DeviceError(DossierError):
    """A scanner or pad failed (jam, cover open, unplugged, timeout); pages so far are kept."""

    exit_code = ExitCode.device_error


class DeviceNotFoundError(DeviceError):
    exit_code = ExitCode.device_not_found


class BusyError(DossierError):
    """Another process holds the folder, journal or device; the message names it."""

    exit_code = ExitCode.busy
