"""User names and titles are cleaned up the way MediaWiki does it."""

from __future__ import annotations

import pytest

from bot.wiki.names import normalize_title, normalize_username


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice", "Alice"),
        ("alice", "Alice"),
        ("  alice  ", "Alice"),
        ("john_doe", "John doe"),
        ("john__ _doe", "John doe"),
        ("_john doe_", "John doe"),
        ("élan vital", "Élan vital"),
        ("ßtraße", "ßtraße"),  # MediaWiki does not turn ß into SS
        ("Foo\u00a0bar", "Foo bar"),  # a no-break space is folded like a space
        ("e\u0301clair", "\u00c9clair"),  # NFC, then upper-cased
        # Only account *creation* forbids $wgInvalidUsernameCharacters ("@:>="); old
        # accounts with them exist, so they are valid rollback targets.
        ("old@example.com", "Old@example.com"),
        ("a=b", "A=b"),
        ("foo:bar", "Foo:bar"),
        ("imported>someone_else", "imported>Someone else"),  # imported-edit authors
        ("192.0.2.5", "192.0.2.5"),
        ("192.000.002.005", "192.0.2.5"),
        ("2001:db8::1", "2001:DB8:0:0:0:0:0:1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:00AB", "2001:DB8:0:0:0:0:0:AB"),
        ("fe80::", "FE80:0:0:0:0:0:0:0"),
    ],
)
def test_normalize_username(raw: str, expected: str) -> None:
    assert normalize_username(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Please give a user name"),
        ("  _ ", "Please give a user name"),
        ("Foo#bar", "cannot contain"),
        ("#12345", "rather than a #user-id"),
        ("Foo<bar", "cannot contain"),
        ("Foo[bar]", "cannot contain"),
        ("Foo|bar", "cannot contain"),
        ("Foo{bar}", "cannot contain"),
        ("Foo\tbar", "cannot contain"),
        ("Foo\x7fbar", "cannot contain"),
        ("Foo\u200bbar", "cannot contain"),  # zero-width space
        ("Foo/bar", "cannot contain '/'"),
        ("192.0.2.0/24", "cannot contain '/'"),
        ("300.1.1.1", "not a valid IP"),
        (">Name", "not a valid user name"),
        ("a>b>c", "not a valid user name"),
    ],
)
def test_normalize_username_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_username(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Main_Page", "Main Page"),
        ("  Talk:Foo__bar ", "Talk:Foo bar"),
        ("sandbox", "sandbox"),  # the wiki decides capitalisation; we use what it returns
    ],
)
def test_normalize_title(raw: str, expected: str) -> None:
    assert normalize_title(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "__"])
def test_normalize_title_rejects_empty(raw: str) -> None:
    with pytest.raises(ValueError, match="page title"):
        normalize_title(raw)
