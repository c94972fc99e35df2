"""The static token file (``--token-auth-file``): bearer tokens listed in a CSV file.

Format as upstream's k8s.io/apiserver/plugin/pkg/authenticator/token/tokenfile, plus Arktos's
tenant column: ``token,user,uid,"group1,group2",,tenant`` (ARKTOS.md §3). The groups column is one
CSV field holding a comma-separated list (hence the quotes); the fifth column is unused; the tenant
defaults to ``system``. As upstream: fewer than three columns is an error for the whole file, a row
with an empty token is skipped with a warning, and a later duplicate token replaces an earlier one.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from server.auth.user import SYSTEM_TENANT, UserInfo

log = logging.getLogger(__name__)

_TOKEN, _USER, _UID, _GROUPS, _TENANT = 0, 1, 2, 3, 5


class TokenFileError(ValueError):
    """The token file cannot be used (upstream refuses to start the API server)."""


def _groups(field: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(g.strip() for g in field.split(",") if g.strip()))


class TokenFile:
    """Maps each listed token to the identity of its row."""

    def __init__(self, users: dict[str, UserInfo]) -> None:
        self._users = users

    @classmethod
    def parse(cls, text: str, *, source: str = "<token file>") -> TokenFile:
        users: dict[str, UserInfo] = {}
        reader = csv.reader(io.StringIO(text), skipinitialspace=True)
        for number, row in enumerate(reader, start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line (Go's csv reader skips these too)
            if len(row) < 3:
                raise TokenFileError(
                    f"token file '{source}' must have at least 3 columns (token, user name, user uid), "
                    f"found {len(row)} in record {number}")
            token = row[_TOKEN].strip()
            if not token:
                log.warning("empty token has been found in token file %r, record number %d", source, number)
                continue
            if token in users:
                log.warning("duplicate token has been found in token file %r, record number %d",
                            source, number)
            tenant = row[_TENANT].strip() if len(row) > _TENANT else ""
            users[token] = UserInfo(
                name=row[_USER].strip(),
                uid=row[_UID].strip(),
                groups=_groups(row[_GROUPS]) if len(row) > _GROUPS else (),
                tenant=tenant or SYSTEM_TENANT,
            )
        return cls(users)

    @classmethod
    def load(cls, path: str | Path) -> TokenFile:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise TokenFileError(f"cannot read token file '{path}': {e.strerror}") from e
        return cls.parse(text, source=str(path))

    def lookup(self, token: str) -> UserInfo | None:
        """The identity for ``token``, or None when the file does not list it."""
        return self._users.get(token)

    def __len__(self) -> int:
        return len(self._users)
