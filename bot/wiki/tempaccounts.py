"""Temporary accounts: which user names a wiki gives its logged-out editors.

MediaWiki (1.39+, `$wgAutoCreateTempUser`) names them from patterns with `$1` for a serial:
`*$1` by default in 1.39 (`*Unregistered 12`), `~$1` from 1.42 (`~2025-12345-67`). A wiki from
1.42 says its match patterns in `meta=siteinfo&siprop=autocreatetempuser`; for an older one the
operator's pattern (WIKI_TEMP_ACCOUNT_PATTERN) or MediaWiki's default for its version is used.
Only a label depends on this: rollback treats a temporary account like any other user.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.wiki.results import SiteInfo

DEFAULT_PATTERN_1_39 = "*$1"
DEFAULT_PATTERN_1_42 = "~$1"


def pattern_matches(pattern: str, name: str) -> bool:
    """MediaWiki's TempUser\\Pattern::isMatch: the text before `$1` starts the name and the
    text after it ends the name."""
    prefix, sep, suffix = pattern.partition("$1")
    if not sep:
        return False
    return (
        name.startswith(prefix)
        and name.endswith(suffix)
        and len(name) >= len(prefix) + len(suffix)
        # An empty pattern ("$1") would make every name temporary; MediaWiki forbids that.
        and bool(prefix or suffix)
    )


def temp_account_patterns(info: SiteInfo | None, configured: str | None) -> tuple[str, ...]:
    """The patterns of the wiki's temporary account names, most authoritative first.

    The wiki's own answer wins (from 1.42: `matchPatterns`, or none when it has no temporary
    accounts); then the operator's setting; then MediaWiki's default for the wiki's version
    (both defaults while the version is not known).
    """
    if info is not None and info.temp_account_patterns is not None:
        return info.temp_account_patterns
    if configured:
        return (configured,)
    version = info.version if info is not None else None
    if version is None:
        return (DEFAULT_PATTERN_1_42, DEFAULT_PATTERN_1_39)
    return (DEFAULT_PATTERN_1_42,) if version >= (1, 42) else (DEFAULT_PATTERN_1_39,)


def is_temp_account(name: str, patterns: Sequence[str]) -> bool:
    return any(pattern_matches(pattern, name) for pattern in patterns)
