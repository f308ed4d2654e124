"""Operator accounts, sessions and CSRF: what lets the UI listen beyond the loopback address.

Passwords are stored as argon2id hashes (argon2-cffi) in ``users.json`` in the UI's data folder,
written atomically. A session is a cookie signed with a per-station secret (itsdangerous):
HttpOnly, SameSite=Strict, carrying the operator's name, role and a CSRF token that every
state-changing request must echo in a header or form field. Without accounts the UI serves
127.0.0.1 only, as the logged-in desktop user (the person at the keyboard is the operator).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from dossier_station.core.errors import BadArgsError
from dossier_station.core.files import write_bytes_atomic, write_json_atomic

ROLES = ("clerk", "officer", "supervisor")
# What each role may do; a supervisor may do everything (and watches the queues).
PERMISSIONS = {
    "clerk": {"scan", "check", "catalogue", "build", "verify"},
    "officer": {"sign", "verify", "check"},
    "supervisor": {"scan", "check", "catalogue", "build", "sign", "queues", "verify"},
}
SESSION_COOKIE = "dossier_session"
SESSION_MAX_AGE = 12 * 3600  # one working day
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    csrf: str
    account: bool = False  # logged in with a password (else: the local desktop user, or nobody yet)

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, set())


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Accounts:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "users.json"

    def load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text("utf-8")).get("users", {})

    def any(self) -> bool:
        return bool(self.load())

    def add(self, name: str, role: str, password: str) -> None:
        if not name or not set(name) <= NAME_CHARS or len(name) > 64:
            raise BadArgsError(f"user name {name!r} is not valid", hint="use letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise BadArgsError(f"role {role!r} is not known", hint=f"choose one of: {', '.join(ROLES)}")
        if len(password) < 8:
            raise BadArgsError("the password is shorter than 8 characters", hint="choose a longer password")
        users = self.load()
        users[name] = {"role": role, "hash": _hasher.hash(password)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"format": "dossier-ui-users/1", "users": users})
        self.path.chmod(0o600)

    def check(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None (same time either way)."""
        user = self.load().get(name)
        stored = user["hash"] if user else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user["role"] if user else None


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def station_secret(data_dir: Path) -> bytes:
    """The key that signs session cookies: made once per station, kept in its data folder."""
    path = Path(data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, secrets.token_hex(32).encode())
        path.chmod(0o600)
    return path.read_bytes().strip()


class Sessions:
    def __init__(self, secret: bytes) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="dossier-ui-session")

    def issue(self, name: str, role: str, *, account: bool = False) -> tuple[str, Operator]:
        op = Operator(name, role, secrets.token_urlsafe(24), account)
        return self._s.dumps({"n": name, "r": role, "c": op.csrf, "a": account}), op

    def read(self, cookie: str | None) -> Operator | None:
        if not cookie:
            return None
        try:
            data: dict[str, Any] = self._s.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        return Operator(data["n"], data["r"], data["c"], bool(data.get("a")))
