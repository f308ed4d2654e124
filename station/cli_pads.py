"""``dossier pads list|emulate`` and ``dossier capture-signature``: the interrogation-room pads."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dossier_station.capture.signature import SignatureCaptureOptions, capture_signature
from dossier_station.core.errors import BadArgsError, DeviceNotFoundError
from dossier_station.core.profile import load_profile
from dossier_station.devices.serial_probe import probe_all

console = Console(highlight=False)


@click.group("pads")
def pads() -> None:
    """Pen signature pads and fingerprint sensors on serial ports."""


@pads.command("list")
@click.option("--port", "ports", multiple=True,
              help="Also probe this port (pseudo-terminals are not listed); repeatable.")
@click.option("--scan/--no-scan", default=True, show_default=True,
              help="Probe every port the system lists (--no-scan: only the --port ones).")
def list_pads(ports: tuple[str, ...], scan: bool) -> None:
    """Probe serial ports and say which holds a pen pad or a fingerprint sensor."""
    results = probe_all(ports, scan=scan)
    if not results:
        if ports:
            raise DeviceNotFoundError("none of the ports given with --port could be probed",
                                      hint="check the port names (see ls /dev/ttyUSB* /dev/ttyACM*)")
        console.print("no serial ports found; plug the pads in or name them with --port")
        return
    table = Table(title="Serial ports", header_style="bold")
    for column in ("port", "found", "parameters", "adapter"):
        table.add_column(column)
    for r in results:
        kind = {"pen": "[green]pen pad[/]", "fingerprint": "[green]fingerprint sensor[/]",
                "none": "[dim]nothing recognised[/]", "unavailable": "[red]unavailable[/]"}[r.kind]
        params = _summary(r.parameters)
        note = f" [yellow]{escape(_plain_reason(r.note) if r.kind == 'unavailable' else r.note)}[/]" if r.note else ""
        table.add_row(escape(r.port), kind + note, escape(params), escape(r.adapter))
    console.print(table)
    requested = [r for r in results if r.port in ports]
    if ports and requested and all(r.kind == "unavailable" for r in requested):
        first = requested[0]
        raise DeviceNotFoundError(
            f"no port given with --port works: {first.port}: {_plain_reason(first.note)}"
            + (f" (and {len(requested) - 1} more)" if len(requested) > 1 else ""),
            hint="name the pad's serial port (ls /dev/ttyUSB* /dev/ttyACM*; pads emulate prints a pty)")


# what the operating system says, in the words of someone plugging in a pad
_REASONS = (
    ("inappropriate ioctl", "not a serial port"),
    ("no such file", "no such port"),
    ("is a directory", "a folder, not a serial port"),
    ("permission denied", "permission denied: add the user to the dialout group"),
    ("device or resource busy", "in use by another program"),
    ("resource temporarily unavailable", "in use by another program"),
)


def _plain_reason(note: str) -> str:
    low = note.lower()
    return next((plain for raw, plain in _REASONS if raw in low), note)


def _summary(p: dict[str, object]) -> str:
    """The parameters an officer or technician checks, in a line."""
    if not p:
        return ""
    if p.get("protocol", "").startswith("Wacom"):  # type: ignore[union-attr]
        tilt = f", tilt {p['tilt_x_max']}/{p['tilt_y_max']}" if p.get("tilt") else ", no tilt"
        return (f"{p['baud']} baud, {p['max_x']}×{p['max_y']} units "
                f"({int(p['max_x']) / 100:.0f}×{int(p['max_y']) / 100:.0f} mm), "
                f"pressure 0–{p['max_pressure']}{tilt}, firmware {p['firmware_version']}")
    if "library_size" in p:
        return (f"{p['baud']} baud, library {p['library_size']}, packets {p['packet_size']} B, "
                f"security {p['security_level']}, system id {p['system_id']}, "
                f"address {p['address']}")
    return f"{p.get('baud', '?')} baud"


@pads.command("emulate")
@click.argument("kind", type=click.Choice(["pen", "finger"]))
@click.option("--baud", type=click.IntRange(1, 4_000_000), default=None,
              help="Device baud (pen 19200, finger 57600); a host at another speed gets garbage.")
@click.option("--rate", type=click.FloatRange(0, 10_000, min_open=True), default=133.0, show_default=True,
              help="Pen packets per second.")
@click.option("--speed", type=click.FloatRange(0, 1000, min_open=True), default=1.0, show_default=True,
              help="Pen replay speed factor (2 = twice as fast).")
@click.option("--trajectory", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Pen trajectory JSON (dossier-pen-trajectory/1); default: a synthetic 王小明.")
@click.option("--loop/--once", default=False, help="Replay the signature again and again.")
@click.option("--streaming", is_flag=True, help="Pen starts up streaming (host must stop it).")
@click.option("--finger-delay", type=click.FloatRange(0, 3600), default=3.0, show_default=True,
              help="Seconds of 'no finger' before a finger is placed, per capture.")
@click.option("--password", type=click.IntRange(0, 0xFFFFFFFF), default=0, help="Sensor password (default 0).")
@click.option("--wire-time", is_flag=True, help="Pace output at the baud's real byte rate.")
def emulate(kind: str, baud: int | None, rate: float, speed: float, trajectory: Path | None,
            loop: bool, streaming: bool, finger_delay: float, password: int,
            wire_time: bool) -> None:
    """Serve an emulated pen pad or fingerprint sensor on a pty until Ctrl-C."""
    from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
    from dossier_station.devices.emulators.pen import PenEmulator
    from dossier_station.devices.emulators.trajectory import load_trajectory

    emu: PenEmulator | FingerprintEmulator
    if kind == "pen":
        replay = [load_trajectory(trajectory)] if trajectory else None  # a bad file: before the pty opens
        emu = PenEmulator(baud=baud or 19200, rate=rate, speed=speed, loop=loop,
                          streaming=streaming, wire_time=wire_time, trajectories=replay)
        what = f"ISDV4 pen pad, {emu.baud} baud, {rate:g} packets/s"
    else:
        baud = baud or 57600
        if baud % 9600:
            raise BadArgsError(f"--baud {baud}: a fingerprint module runs at 9600×N",
                               hint="use 9600, 19200, 38400, 57600 or 115200")
        emu = FingerprintEmulator(baud_n=baud // 9600, password=password,
                                  finger_delay=finger_delay, wire_time=wire_time)
        what = f"ZFM/R30x fingerprint sensor, {emu.baud} baud, finger after {finger_delay:g} s"
    click.echo(emu.port)
    console.print(f"[dim]{what}; Ctrl-C to stop[/]", soft_wrap=True)
    try:
        emu.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C is how an emulator is meant to end: not an error
        console.print("[dim]emulator stopped[/]")
    finally:
        emu.close()


@click.command("capture-signature")
@click.option("--pen", "pen_port", default=None, help="Pen pad port (e.g. /dev/ttyUSB0).")
@click.option("--finger", "finger_port", default=None, help="Fingerprint sensor port.")
@click.option("--signer", required=True, help="The signer's name, e.g. \"王小明\".")
@click.option("--operator", default=None, help="Officer running the capture.")
@click.option("--station", default=None, help="Station name (default: host name).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="New folder for the capture package.")
@click.option("--attempts", type=click.IntRange(1, 20), default=None,
              help="Attempts per capture before giving up (default 3).")
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait for the signer to start / the finger (default 60 / 30).")
@click.option("--pen-idle", type=float, default=None,
              help="Seconds with the pen away after signing that end it (default 2).")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
@click.option("--document", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The transcript being signed: its SHA-256 is recorded in the package (dossier sign --capture).")
def capture_signature_cmd(pen_port: str | None, finger_port: str | None, signer: str,
                          operator: str | None, station: str | None, out: Path,
                          attempts: int | None, timeout: float | None, pen_idle: float | None,
                          profile_path: str | None, document: Path | None = None) -> None:
    """Capture one handwritten signature and one fingerprint into a capture package."""
    profile = load_profile(profile_path)
    opts = SignatureCaptureOptions.from_profile(
        profile, pen_port=pen_port, finger_port=finger_port, signer=signer, operator=operator,
        station=station, attempts=attempts, pen_timeout=timeout, finger_timeout=timeout,
        pen_idle=pen_idle)
    if not opts.pen_port or not opts.finger_port:
        raise BadArgsError("the pen pad and fingerprint ports are needed",
                           hint="pass --pen PORT --finger PORT (see `dossier pads list`) or set "
                           "them in the profile's [pads] table")
    if os.path.realpath(opts.pen_port) == os.path.realpath(opts.finger_port):
        raise BadArgsError(f"the pen pad and the fingerprint sensor are both on {opts.pen_port}",
                           hint="each device has its own port: see `dossier pads list`")
    live = console.is_terminal or bool(os.environ.get("DOSSIER_PROGRESS"))
    with console.status("starting…", spinner="dots") if live else _NoStatus() as status:

        def report(level: str, message: str) -> None:
            if level == "progress":
                if live:
                    status.update(escape(message))
            elif level == "status":
                if live:
                    status.update(escape(message))
                else:
                    console.print(f"… {escape(message)}", soft_wrap=True)
            elif level == "warn":
                console.print(f"[yellow]![/] {escape(message)}", soft_wrap=True)
            else:
                console.print(f"[green]✓[/] {escape(message)}", soft_wrap=True)

        bound = None
        if document is not None:
            from dossier_station.core.files import sha256_file

            bound = {"sha256": sha256_file(document), "name": document.name}
            console.print(f"document {escape(document.name)} sha256 {bound['sha256']}", soft_wrap=True)
        path = capture_signature(opts, out, report, document=bound)
    click.echo(str(path))


class _NoStatus:
    """Stand-in for rich's status when output is not a terminal (logs, tests)."""

    def __enter__(self) -> _NoStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, _message: str) -> None:
        return None


COMMANDS = [pads, capture_signature_cmd]
