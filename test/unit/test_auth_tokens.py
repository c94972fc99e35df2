"""server.auth.tokens: parsing the static token file (``token,user,uid,"groups",,tenant``).

Covers quoted group lists, the tenant column and its default, blank lines, empty tokens,
duplicates, short rows and an unreadable file. Leaves out serving (the authenticator's tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server.auth.tokens import TokenFile, TokenFileError


def test_rows_with_quoted_groups_and_tenant() -> None:
    tokens = TokenFile.parse(
        'abc,admin,uid-1,"system:masters,ops"\n'
        'def,alice,uid-2,"devs, qa",,acme\n'
        "ghi,bob,uid-3\n"
        'jkl,carol,uid-4,"",,\n'
    )
    admin = tokens.lookup("abc")
    assert admin is not None
    assert (admin.name, admin.uid, admin.groups, admin.tenant) == (
        "admin",
        "uid-1",
        ("system:masters", "ops"),
        "system",
    )
    alice = tokens.lookup("def")
    assert alice is not None
    assert (alice.groups, alice.tenant) == (("devs", "qa"), "acme")
    bob = tokens.lookup("ghi")
    assert bob is not None and bob.groups == () and bob.tenant == "system"
    carol = tokens.lookup("jkl")
    assert carol is not None and carol.tenant == "system"
    assert tokens.lookup("nope") is None
    assert len(tokens) == 4


def test_blank_lines_and_empty_tokens_are_skipped() -> None:
    tokens = TokenFile.parse("\n,ghost,uid\n  \ntok,user,uid\n")
    assert len(tokens) == 1
    assert tokens.lookup("") is None


def test_later_duplicate_wins() -> None:
    tokens = TokenFile.parse("tok,first,1\ntok,second,2\n")
    user = tokens.lookup("tok")
    assert user is not None and user.name == "second"


@pytest.mark.parametrize("text", ["tok,user\n", "ok,u,1\nonlytoken\n"])
def test_short_rows_reject_the_file(text: str) -> None:
    with pytest.raises(TokenFileError, match="at least 3 columns"):
        TokenFile.parse(text, source="tokens.csv")


def test_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('t1,u1,1,"a,b",,globex\n')
    user = TokenFile.load(path).lookup("t1")
    assert user is not None and user.tenant == "globex" and user.groups == ("a", "b")
    with pytest.raises(TokenFileError, match="cannot read"):
        TokenFile.load(tmp_path / "missing.csv")
