"""The static token file the API server reads with `--token-auth-file` (known_tokens.csv).

Upstream's token file is CSV, one row per token: `token,user,uid,"group1,group2"`; Arktos adds
the tenant after an empty column: `token,user,uid,"groups",,tenant` (ARKTOS.md §3). arktos-up.sh
keeps an `admin` row there so a bearer token works alongside the admin certificate (as upstream's
local-up-cluster writes `known_tokens.csv`). A row for a user is added once and then reused, so a
restart does not invalidate tokens already handed out. The file holds secrets: mode 0600.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pki.atomic_file import read_optional, write_secret

TOKEN_FILE = "known_tokens.csv"
SYSTEM_TENANT = "system"
_FORBIDDEN_CHARACTERS = set(',"\r\n')


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = ()
    tenant: str = SYSTEM_TENANT

    def render(self) -> str:
        # Groups always quoted, as upstream's documentation writes them; tenant after an empty column.
        return f'{self.token},{self.user},{self.uid},"{",".join(self.groups)}",,{self.tenant}\n'


def parse_rows(text: str) -> list[TokenRow]:
    """Every well-formed row (at least token, user, uid); blank lines and `#` comments skipped."""
    rows: list[TokenRow] = []
    for record in csv.reader(io.StringIO(text)):
        if len(record) < 3 or record[0].startswith("#") or not record[0].strip():
            continue
        groups = tuple(g for g in (record[3].split(",") if len(record) > 3 else []) if g)
        tenant = record[5] if len(record) > 5 and record[5] else SYSTEM_TENANT
        rows.append(TokenRow(record[0], record[1], record[2], groups, tenant))
    return rows


def _check_field(value: str, what: str) -> None:
    if not value or _FORBIDDEN_CHARACTERS & set(value):
        raise ValueError(f"{what} {value!r} must be non-empty without commas, quotes or newlines")


def ensure_token(
    path: Path,
    *,
    user: str,
    uid: str | None = None,
    groups: Sequence[str] = (),
    tenant: str = SYSTEM_TENANT,
) -> str:
    """The token of ``user`` in ``tenant`` from the file, appending a new random one if it has none."""
    for value, what in [
        (user, "user"),
        (uid or user, "uid"),
        (tenant, "tenant"),
        *((g, "group") for g in groups),
    ]:
        _check_field(value, what)
    existing = (read_optional(path) or b"").decode()
    for row in parse_rows(existing):
        if row.user == user and row.tenant == tenant:
            return row.token
    row = TokenRow(secrets.token_hex(32), user, uid or user, tuple(groups), tenant)
    if existing and not existing.endswith("\n"):
        existing += "\n"
    write_secret(path, (existing + row.render()).encode())
    return row.token
