"""Raw Discord message payloads (as discord.py receives them) of wiki feeds and of members.

Each feed format is rebuilt from its project's public source:
- RcGcDw embed and compact (fandom-zh/RcGcDw, a mirror of Frisk's RcGcDw):
  extensions/base/mediawiki.py `embed_edit` / `compact_edit` build the edit link as
  `{script path}index.php?title={title}&curid={pageid}&diff={revid}&oldid={old_revid}` (old_revid
  is 0 for a new page); src/api/util.py `embed_helper` sets the author to the user's page (an IP's
  Special:Contributions) and the description to the parsed summary, `compact_author` and
  `clean_link` wrap links in <>, `sanitize_to_url` leaves `(` but encodes `)` as %29;
  src/rc.py (`essential_info`) renames a hidden user to "hidden"; src/discord/message.py is the
  webhook JSON (embeds, allowed_mentions).
- Wiki-Bot (Markus-Rost/discord-wiki-bot): its recent-changes feed is RcGcDb (the submodule
  RcGcDb, read from fandom-zh/RcGcDb extensions/base/mediawiki.py), which builds the same
  index.php link but escapes the embed title (`sanitize_to_markdown`); and its diff reply
  (cmds/wiki/diff.js `mw_diff_send`) links `wiki.toLink(title, {diff, oldid})`, i.e. the article
  path plus `?diff=N&oldid=M` (oldid 0 for a page's first edit), with the editor as
  `[user](<User:…>)` or "*hidden*" (i18n/en.json diff.hidden).
The wiki is https://wiki.example.org (api /w/api.php, article path /wiki/$1); "other wiki" cases
use https://other.example.net (api /api.php, article path /$1).
"""

from __future__ import annotations

from typing import Any

WIKI = "https://wiki.example.org"
OTHER = "https://other.example.net"
CHANNEL_ID = "1100000000000000001"
GUILD_ID = "1000000000000000001"
WEBHOOK_ID = "1200000000000000001"
WIKIBOT_ID = "461189216198590464"


def _message(
    message_id: int,
    author: dict[str, Any],
    *,
    content: str = "",
    embeds: list[dict[str, Any]] | None = None,
    webhook: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(1300000000000000000 + message_id),
        "channel_id": CHANNEL_ID,
        "guild_id": GUILD_ID,
        "author": author,
        "content": content,
        "timestamp": "2025-05-04T12:00:00.000000+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "components": [],
    }
    if webhook:
        payload["webhook_id"] = WEBHOOK_ID
    return payload


_WEBHOOK_AUTHOR = {
    "id": WEBHOOK_ID,
    "username": "Example Wiki",
    "avatar": None,
    "discriminator": "0000",
    "bot": True,
}
_WIKIBOT_AUTHOR = {
    "id": WIKIBOT_ID,
    "username": "Wiki-Bot",
    "avatar": None,
    "discriminator": "0000",
    "public_flags": 65536,
    "bot": True,
}
_MEMBER = {
    "id": "900000000000000001",
    "username": "patroller",
    "global_name": "Patroller",
    "avatar": None,
    "discriminator": "0",
    "public_flags": 0,
}


def _rc_edit_url(title: str, pageid: int, revid: int, old: int) -> str:
    return f"{WIKI}/w/index.php?title={title}&curid={pageid}&diff={revid}&oldid={old}"


def _rc_embed(
    *, title: str, url: str, user: str, user_url: str, summary: str, color: int
) -> dict[str, Any]:
    # Discord adds "type" and the proxied icon; RcGcDw sets author/url/title/description/color.
    return {
        "type": "rich",
        "url": url,
        "title": title,
        "description": summary,
        "color": color,
        "timestamp": "2025-05-04T11:59:58+00:00",
        "author": {"name": user, "url": user_url},
        "fields": [{"name": "Tags", "value": "Visual edit", "inline": False}],
    }


# RcGcDw, embed mode ------------------------------------------------------------------------------

RCGCDW_EMBED_EDIT = _message(
    1,
    _WEBHOOK_AUTHOR,
    webhook=True,
    embeds=[
        _rc_embed(
            title="Grand Canyon (Arizona) (+12)",
            url=_rc_edit_url("Grand_Canyon_(Arizona%29", 42, 1337, 1336),
            user="Vandal99",
            user_url=f"{WIKI}/wiki/User:Vandal99",
            summary="fixed typo",
            color=35840,
        )
    ],
)
RCGCDW_EMBED_NEW = _message(
    2,
    _WEBHOOK_AUTHOR,
    webhook=True,
    embeds=[
        _rc_embed(
            title="Café ((N!)  +250)",
            url=_rc_edit_url("Caf%C3%A9", 77, 1400, 0),
            user="203.0.113.9",
            user_url=f"{WIKI}/wiki/Special:Contributions/203.0.113.9",
            summary="Created page with &quot;hello&quot;",
            color=36864,
        )
    ],
)
RCGCDW_EMBED_HIDDEN_USER = _message(
    3,
    _WEBHOOK_AUTHOR,
    webhook=True,
    embeds=[
        _rc_embed(
            title="Grand Canyon (Arizona) (-3000)",
            url=_rc_edit_url("Grand_Canyon_(Arizona%29", 42, 1501, 1500),
            user="hidden",
            user_url=f"{WIKI}/wiki/User:hidden",
            summary="~~hidden~~",
            color=10027008,
        )
    ],
)

# RcGcDw, compact mode (content only; the emoji comes from settings event_appearance) ------------

RCGCDW_COMPACT_EDIT = _message(
    4,
    _WEBHOOK_AUTHOR,
    webhook=True,
    content=(
        f"📝 [Vandal99](<{WIKI}/wiki/User:Vandal99>) edited "
        f"[Grand Canyon (Arizona)](<{_rc_edit_url('Grand_Canyon_(Arizona%29', 42, 1337, 1336)}>)"
        " *(fixed typo)* (+12)"
    ),
)
RCGCDW_COMPACT_NEW = _message(
    5,
    _WEBHOOK_AUTHOR,
    webhook=True,
    content=(
        f"🆕 [203.0.113.9](<{WIKI}/wiki/User:203.0.113.9>) created "
        f"[Café](<{_rc_edit_url('Caf%C3%A9', 77, 1400, 0)}>) *(Created page)* (+250)"
    ),
)
RCGCDW_COMPACT_HIDDEN_USER = _message(
    6,
    _WEBHOOK_AUTHOR,
    webhook=True,
    content=(
        f"📝 [hidden](<{WIKI}/wiki/User:hidden>) edited "
        f"[Grand Canyon (Arizona)](<{_rc_edit_url('Grand_Canyon_(Arizona%29', 42, 1501, 1500)}>)"
        " *(~~hidden~~)* **(-3000)**"
    ),
)

# Wiki-Bot: recent changes (RcGcDb, embed) --------------------------------------------------------

WIKIBOT_RC_EDIT = _message(
    7,
    _WEBHOOK_AUTHOR,
    webhook=True,
    embeds=[
        _rc_embed(
            title="Main Page (-40)",
            url=_rc_edit_url("Main_Page", 1, 2001, 1999),
            user="Vandal99",
            user_url=f"{WIKI}/wiki/User:Vandal99",
            summary="No description provided",
            color=9175040,
        )
    ],
)
WIKIBOT_RC_NEW = _message(
    8,
    _WEBHOOK_AUTHOR,
    webhook=True,
    embeds=[
        _rc_embed(
            title="User\\:Vandal99/Sandbox ((N!)  +5)",
            url=_rc_edit_url("User:Vandal99/Sandbox", 90, 2002, 0),
            user="Vandal99",
            user_url=f"{WIKI}/wiki/User:Vandal99",
            summary="No description provided",
            color=35840,
        )
    ],
)
WIKIBOT_RC_HIDDEN_USER = _message(
    9,
    _WEBHOOK_AUTHOR,
    webhook=True,
    embeds=[
        _rc_embed(
            title="Main Page (+1)",
            url=_rc_edit_url("Main_Page", 1, 2003, 2001),
            user="hidden",
            user_url=f"{WIKI}/wiki/User:hidden",
            summary="~~hidden~~",
            color=35840,
        )
    ],
)

# Wiki-Bot: its diff reply (cmds/wiki/diff.js) -----------------------------------------------------


def _wikibot_diff(
    message_id: int, *, title: str, path: str, diff: int, oldid: int, editor: str
) -> dict[str, Any]:
    link = f"{WIKI}/wiki/{path}?diff={diff}&oldid={oldid}"
    embed = {
        "type": "rich",
        "url": link,
        "title": f"{title}?diff={diff}&oldid={oldid}",
        "author": {"name": "Example Wiki"},
        "timestamp": "2025-05-04T11:59:58+00:00",
        "fields": [
            {"name": "Editor:", "value": editor, "inline": True},
            {"name": "Difference:", "value": "+12 bytes", "inline": True},
            {
                "name": "Edit date:",
                "value": "4 May 2025, 11:59:58\n<t:1746359998:R>",
                "inline": True,
            },
            {"name": "Comment:", "value": "*No description provided*", "inline": False},
        ],
    }
    return _message(message_id, _WIKIBOT_AUTHOR, content=f"<{link}>", embeds=[embed])


WIKIBOT_DIFF_EDIT = _wikibot_diff(
    10,
    title="Main Page",
    path="Main_Page",
    diff=2001,
    oldid=1999,
    editor=f"[Vandal99](<{WIKI}/wiki/User:Vandal99>)",
)
WIKIBOT_DIFF_NEW = _wikibot_diff(
    11,
    title="User:Vandal99/Sandbox",
    path="User:Vandal99/Sandbox",
    diff=2002,
    oldid=0,
    editor=f"[Vandal99](<{WIKI}/wiki/User:Vandal99>)",
)
WIKIBOT_DIFF_HIDDEN_USER = _wikibot_diff(
    12, title="Main Page", path="Main_Page", diff=2003, oldid=2001, editor="*hidden*"
)

# Members -----------------------------------------------------------------------------------------

MEMBER_MARKDOWN = _message(
    20,
    _MEMBER,
    content=f"Vandalism again: [this edit]({WIKI}/wiki/Special:Diff/1337) please revert",
)
MEMBER_ANGLE = _message(
    21,
    _MEMBER,
    content=f"see <{WIKI}/w/index.php?title=Grand_Canyon_(Arizona)&diff=prev&oldid=1337>",
)
MEMBER_SEVERAL = _message(
    22,
    _MEMBER,
    content=(
        f"Two from the same IP: {WIKI}/w/index.php?diff=1400&oldid=1399 and "
        f"<{WIKI}/wiki/Special:Diff/1398/1401>, history at {WIKI}/w/index.php?"
        "title=Caf%C3%A9&action=history. Same one again: "
        f"https://wiki.example.org/w/index.php?diff=1400&oldid=1399."
    ),
)
MEMBER_OTHER_WIKI = _message(
    23,
    _MEMBER,
    content=(
        f"Not ours: https://en.wikipedia.org/w/index.php?diff=123&oldid=122, "
        f"but the sister wiki's: {OTHER}/Special:PermanentLink/77 and {OTHER}/index.php?diff=78"
    ),
)
MEMBER_NO_EDIT = _message(
    24,
    _MEMBER,
    content=f"Look at {WIKI}/wiki/Grand_Canyon and {WIKI}/w/index.php?title=X&action=edit",
)
MEMBER_FORWARD = {
    **_message(25, _MEMBER),
    "message_reference": {
        "type": 1,
        "channel_id": CHANNEL_ID,
        "message_id": RCGCDW_EMBED_EDIT["id"],
        "guild_id": GUILD_ID,
    },
    "message_snapshots": [
        {
            "message": {
                "type": 0,
                "content": "",
                "embeds": RCGCDW_EMBED_EDIT["embeds"],
                "attachments": [],
                "timestamp": RCGCDW_EMBED_EDIT["timestamp"],
                "edited_timestamp": None,
                "flags": 0,
                "mentions": [],
                "mention_roles": [],
            }
        }
    ],
}
