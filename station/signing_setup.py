"""From the profile's ``[signing]`` table and the command line to the objects signing/ needs.

Paths in the profile are relative to the profile's folder, so a station folder (profile + PKI
files) can move as a whole. Command-line values win over the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError, ProfileError
from dossier_station.core.profile import Profile, load_profile
from dossier_station.signing.keys import KeyRef, parse_key_ref, read_pin
from dossier_station.signing.pades import Trust, load_certs


@dataclass
class SigningSetup:
    profile: Profile
    table: Any
    trust_files: list[Path] = field(default_factory=list)

    def path(self, value: str | None) -> Path | None:
        if not value:
            return None
        p = Path(value).expanduser()
        if not p.is_absolute() and self.profile.path is not None:
            p = self.profile.path.parent / p
        return p

    def trust(self, cli_trust: tuple[Path, ...] = ()) -> Trust:
        files = list(cli_trust) or [p for p in (self.path(t) for t in self.table.trust) if p]
        roots = [c for f in files for c in load_certs(f)]
        return Trust(roots=roots)

    def key_ref(self, pkcs12: Path | None, key: str | None, *, default: str | None = None, what: str = "key") -> KeyRef:
        if pkcs12 and key:
            raise BadArgsError("give --pkcs12 or --key, not both", hint="one signing key per run")
        text = str(pkcs12) if pkcs12 else key
        if text is None:
            p = self.path(default) if default and not default.startswith("pkcs11:") else None
            text = str(p) if p else default
        if not text:
            raise BadArgsError(f"no signing {what}", hint="pass --pkcs12 FILE or --key pkcs11:… (or set [signing] seal in the profile)")
        return parse_key_ref(text, module=self.table.pkcs11_module)

    def pin(self, what: str) -> str:
        return read_pin(what, self.table.pin_env)

    def tsa(self, cli: str | None, level: str) -> str | None:
        url = cli or self.table.tsa_url
        if level != "B-B" and not url:
            raise ProfileError(f"PAdES {level} needs a timestamp authority",
                               hint="set [signing] tsa_url in the profile or pass --tsa URL (or --level B-B)")
        return url


def load_setup(profile_path: str | None) -> SigningSetup:
    profile = load_profile(profile_path)
    return SigningSetup(profile, profile.table("signing"))
