"""API tokens: role + group scope, loaded from MODSTREAM_TOKENS_FILE.

Secrets are compared as SHA-256 digests with `hmac.compare_digest`, so a lookup costs
the same whichever token (if any) matches, and plain secrets never sit in a dict key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.codec import validation_message
from shared.events import Role

OPERATOR_ACTIONS = frozenset({"warn", "remove_message", "mute"})
ADMIN_ONLY_ACTIONS = frozenset({"kick", "ban"})


class TokenSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    token: str | None = Field(default=None, min_length=8)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    role: Role
    groups: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_secret(self) -> TokenSpec:
        if (self.token is None) == (self.sha256 is None):
            raise ValueError("give exactly one of 'token' or 'sha256'")
        return self


class TokensFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: list[TokenSpec]


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    groups: frozenset[str]

    @property
    def all_groups(self) -> bool:
        return "*" in self.groups

    def can_see(self, group_key: str) -> bool:
        return self.all_groups or group_key in self.groups


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class TokenStore:
    def __init__(self, specs: list[TokenSpec]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for spec in specs:
            digest = bytes.fromhex(spec.sha256) if spec.sha256 else _digest(spec.token or "")
            self._entries.append((digest, Principal(spec.name, spec.role, frozenset(spec.groups))))

    @classmethod
    def from_file(cls, path: Path | None) -> TokenStore:
        if path is None:
            return cls([])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {"tokens": []}
            return cls(TokensFile.model_validate(data).tokens)
        except ValidationError as err:
            raise ValueError(f"{path}: {validation_message(err)}") from err

    def authenticate(self, secret: str) -> Principal | None:
        presented = _digest(secret)
        found: Principal | None = None
        for digest, principal in self._entries:
            if hmac.compare_digest(presented, digest) and found is None:
                found = principal
        return found


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
