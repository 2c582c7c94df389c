"""The edit summary: attribution, `$` escaping, the wiki default, MediaWiki's 500-char limit."""

from __future__ import annotations

import pytest

from bot.services.summary import SUMMARY_LIMIT, attribution, build_summary, escape_dollars

DEFAULT = (
    "Reverted edits by [[Special:Contributions/$2|$2]] ([[User talk:$2|talk]]) "
    "to last revision by $1"
)


def summary(text: str | None, *, default: str = DEFAULT, requester: str = "Mod") -> str:
    return build_summary(
        text,
        requester_name=requester,
        default_message=default,
        restored_user="Editor",
        target_user="Vandal",
    )


def test_moderator_text_gets_the_attribution() -> None:
    assert summary("spam") == "spam (requested by Mod via Discord)"


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_text_uses_the_wiki_default_with_placeholders_intact(text: str | None) -> None:
    # MediaWiki fills in $1/$2 itself; they must reach it unescaped.
    assert summary(text) == DEFAULT + " (requested by Mod via Discord)"


def test_dollars_in_moderator_text_and_name_are_not_substituted() -> None:
    assert summary("cost $1 and $2", requester="$5 guy") == (
        "cost &#36;1 and &#36;2 (requested by &#36;5 guy via Discord)"
    )
    assert escape_dollars("$$") == "&#36;&#36;"


def test_whitespace_is_folded() -> None:
    assert summary("  a \n\t b  ") == "a b (requested by Mod via Discord)"


def test_long_text_is_cut_to_the_limit_keeping_the_attribution() -> None:
    result = summary("x" * 600)
    assert len(result) == SUMMARY_LIMIT
    assert result.endswith("… " + attribution("Mod"))


def test_cut_never_splits_an_entity() -> None:
    tail_len = len(" " + attribution("Mod"))
    room = SUMMARY_LIMIT - tail_len - 1  # one character for the ellipsis
    for offset in range(6):  # put a "$" at every position around the cut
        text = "a" * (room - offset) + "$" * 10
        result = summary(text)
        assert len(result) <= SUMMARY_LIMIT
        body = result.removesuffix(" " + attribution("Mod")).removesuffix("…")
        assert body.count("&") == body.count("&#36;"), body[-12:]


def test_default_too_long_with_worst_case_arguments_falls_back_to_the_attribution() -> None:
    # A customised MediaWiki:Revertpage using timestamps ($4, $6) and revids ($3, $5).
    custom = "r" * 380 + " $3 $4 $5 $6"  # 392 chars raw, over 500 once expanded
    result = summary(None, default=custom)
    assert result == attribution("Mod")
    fits = "Reverted to $3 of $4"
    assert summary(None, default=fits) == fits + " " + attribution("Mod")
