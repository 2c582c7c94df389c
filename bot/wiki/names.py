"""User-name and title clean-up, mirroring what MediaWiki does before it looks a name up.

MediaWiki's `$wgInvalidUsernameCharacters` (default `@:>=`) is deliberately NOT applied: it
only stops *new* accounts (`UserNameUtils::isCreatable`). Older accounts containing `@`, `:` or
`=` exist and can vandalise, and `prefix>Name` is how imported edits are attributed - all of them
are valid rollback targets. We only reject what no existing user name can contain.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

# Characters MediaWiki never allows in a page title, hence never in a user name.
_TITLE_ILLEGAL = frozenset("#<>[]|{}")
# UserNameUtils::isValid's extra "troublemaker" ranges (C1 controls, odd spaces, private use).
# Control characters are illegal in titles too.
_TROUBLEMAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2000-\u200f\u2028-\u202f\ue000-\uf8ff]")
# Title normalisation folds these spaces (and underscores) into one space (MediaWikiTitleCodec).
_SPACES = re.compile("[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
# "#12345": a user by id, as `action=rollback` and other user parameters accept it.
_USER_ID = re.compile(r"^#(\d{1,10})$")


def _ucfirst(text: str) -> str:
    first = text[:1].upper()
    # Python upper-cases "ß" to "SS"; MediaWiki keeps a single character there.
    return (first if len(first) == 1 else text[:1]) + text[1:]


def _sanitize_ip(name: str) -> str | None:
    """MediaWiki's IPUtils::sanitizeIP: IPv4 without leading zeros, IPv6 expanded upper-case."""
    if _IPV4.match(name):
        octets = name.split(".")
        if any(int(octet) > 255 for octet in octets):
            # MediaWiki treats IP look-alikes as IPs, so no user can have this name.
            raise ValueError(f"{name!r} is not a valid IP address.")
        return ".".join(str(int(octet)) for octet in octets)
    if ":" in name:
        try:
            address = ipaddress.IPv6Address(name)
        except ValueError:
            return None
        # MediaWiki stores e.g. "2001:DB8:0:0:0:0:0:1" (expanded, no leading zeros, upper-case).
        return ":".join(f"{int(group, 16):X}" for group in address.exploded.split(":"))
    return None


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)  # MediaWiki normalises all input to NFC
    return _SPACES.sub(" ", text).strip()


def normalize_username(name: str) -> str:
    """Return `name` as MediaWiki spells it ("foo_bar" -> "Foo bar"); ValueError if impossible."""
    text = _clean(name)
    if not text:
        raise ValueError("Please give a user name or IP address.")
    ip = _sanitize_ip(text)
    if ip is not None:
        return ip
    if text.startswith("#"):
        raise ValueError("Please give the user's name rather than a #user-id.")
    if "/" in text:
        raise ValueError("User names cannot contain '/'; IP ranges cannot be rolled back.")
    prefix, sep, local = text.partition(">")
    if sep:
        # "prefix>Name": an imported/interwiki author. Only the name part is a local name.
        prefix, local = prefix.strip(), _clean(local)
        if not prefix or not local or ">" in local:
            raise ValueError(f"{name.strip()!r} is not a valid user name.")
        return f"{prefix}>{normalize_username(local)}"
    bad = sorted({ch for ch in text if ch in _TITLE_ILLEGAL or _TROUBLEMAKERS.match(ch)})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise ValueError(f"User names cannot contain these characters: {shown}.")
    return _ucfirst(text)


def user_id_reference(name: str) -> int | None:
    """The id in "#12345" (a user by id, to be resolved to a name with the wiki), else None."""
    match = _USER_ID.match(_clean(name))
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def ipv6_slash64(name: str) -> str | None:
    """The /64 network of an IPv6 user name ("2001:DB8:0:0::/64"), None for anything else.

    One IPv6 subscriber usually holds a whole /64, so other addresses in it are often the
    same person."""
    if ":" not in name:
        return None
    try:
        network = ipaddress.IPv6Network(f"{name.strip()}/64", strict=False)
    except ValueError:
        return None
    return str(network).upper()


def normalize_title(title: str) -> str:
    """Light clean-up before asking the wiki; the wiki's own normalised title is authoritative."""
    text = _clean(title)
    if not text:
        raise ValueError("Please give a page title.")
    return text


def capitalized_title(title: str) -> str:
    """`normalize_title` plus the capital first letter the wiki stores ($wgCapitalLinks, the
    default), so what a moderator typed matches what the wiki returns."""
    text = normalize_title(title)
    return text[:1].upper() + text[1:]
