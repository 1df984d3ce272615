from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shared.tokens import TokenStore, bearer


def test_tokens_file_plain_and_hashed(tmp_path: Path) -> None:
    f = tmp_path / "tokens.yaml"
    f.write_text(
        "tokens:\n"
        "  - {name: lead, token: plain-secret-1, role: admin, groups: ['*']}\n"
        f"  - {{name: op, sha256: {hashlib.sha256(b'op-secret-22').hexdigest()}, role: operator,"
        " groups: ['telegram:-1']}\n"
    )
    store = TokenStore.from_file(f)
    admin = store.authenticate("plain-secret-1")
    op = store.authenticate("op-secret-22")
    assert admin is not None and admin.role == "admin" and admin.can_see("slack:C1")
    assert op is not None and op.name == "op" and op.can_see("telegram:-1")
    assert not op.can_see("telegram:-2")
    assert store.authenticate("nope") is None


def test_tokens_file_errors_say_what(tmp_path: Path) -> None:
    f = tmp_path / "tokens.yaml"
    f.write_text("tokens:\n  - {name: x, role: king, groups: ['*'], token: abcdefgh}\n")
    with pytest.raises(ValueError, match="role"):
        TokenStore.from_file(f)


def test_bearer_header_parsing() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer(None) is None
