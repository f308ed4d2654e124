"""Which serial port holds a pen pad, which a fingerprint sensor: ask each in its own protocol.

USB-serial adapters all look alike (same vendor/product ids, names that change on replug), so
the only trustworthy identification is a protocol reply: the ISDV4 ``*`` capability query and
the fingerprint module's ReadSysPara. Neither disturbs the other device: the sensor's frame
contains none of the pen's command bytes, while the pen's ``0``/``*`` are ignored by a sensor,
so asking in either order is safe; the order is chosen for speed.
Pseudo-terminals are not enumerated by pyserial, hence the extra ``ports`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import serial
from serial.tools import list_ports

from dossier_station.core.errors import DeviceError
from dossier_station.devices.fingerprint_zfm import FingerprintError, SystemParameters, ZfmSensor
from dossier_station.devices.pen_isdv4 import IsdV4Pen, PenError

FINGER_PROBE_BAUDS = (57600, 115200, 9600, 19200, 38400)


@dataclass
class ProbeResult:
    port: str
    kind: str  # "pen", "fingerprint", "none" or "unavailable"
    description: str = ""
    adapter: str = ""  # what the OS says about the port (USB adapter name), if anything
    parameters: dict[str, object] = field(default_factory=dict)
    note: str = ""


def candidate_ports(extra: tuple[str, ...] | list[str] = (), *,
                    scan: bool = True) -> list[tuple[str, str]]:
    """(device, description) for every serial port pyserial lists, plus the given ones."""
    seen: dict[str, str] = {}
    for info in list_ports.comports() if scan else ():
        seen[info.device] = info.description or ""
    for port in extra:
        seen.setdefault(port, "given with --port")
    return sorted(seen.items())


def probe_fingerprint(port: str, bauds: tuple[int, ...] = FINGER_PROBE_BAUDS,
                      timeout: float = 0.3) -> ProbeResult | None:
    for baud in bauds:
        sensor = ZfmSensor(port, baud=baud, timeout=timeout)
        try:
            sensor.serial = serial.Serial(port, baud, timeout=0.05, exclusive=True)
            code, data = sensor.command(0x0F)
        except FingerprintError:
            continue
        except serial.SerialException:
            return None
        finally:
            sensor.close()
        params: dict[str, object] = {"protocol": "ZFM/R30x EF01", "baud": baud}
        note = ""
        if code == 0x00 and len(data) == 16:
            params.update(SystemParameters.from_payload(data).as_dict())
        elif code == 0x21:
            note = "password protected: set [pads] finger_password"
        return ProbeResult(port, "fingerprint", "fingerprint sensor", parameters=params, note=note)
    return None


def probe_pen(port: str, bauds: tuple[int, ...] = (19200, 38400), settle: float = 0.1,
              query_timeout: float = 0.5) -> ProbeResult | None:
    pen = IsdV4Pen(port, bauds=bauds, settle=settle, query_timeout=query_timeout)
    try:
        caps = pen.open()
    except (PenError, DeviceError):
        return None
    finally:
        pen.close()
    return ProbeResult(port, "pen", "ISDV4 pen pad", parameters=caps.as_dict())


def probe_port(port: str, description: str = "") -> ProbeResult:
    """Identify one port; never raises, a busy or missing port is reported as such."""
    try:
        serial.Serial(port, 9600, timeout=0, exclusive=True).close()
    except serial.SerialException as exc:
        return ProbeResult(port, "unavailable", adapter=description,
                           note=str(exc.strerror or exc))
    # the factory fingerprint baud first (cheap), then the pen, then the rarer sensor bauds
    found = (probe_fingerprint(port, FINGER_PROBE_BAUDS[:1]) or probe_pen(port)
             or probe_fingerprint(port, FINGER_PROBE_BAUDS[1:]))
    if found is None:
        return ProbeResult(port, "none", adapter=description,
                           note="no pen pad or fingerprint reply")
    found.adapter = description
    return found


def probe_all(extra: tuple[str, ...] | list[str] = (), *, scan: bool = True) -> list[ProbeResult]:
    return [probe_port(port, desc) for port, desc in candidate_ports(extra, scan=scan)]
