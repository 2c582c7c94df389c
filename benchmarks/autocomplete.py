"""`/rollback` autocomplete latency on a local dev wiki, cold (every call reads the wiki) and
cached (the same query again within the cache's few seconds).

    uv run python -m benchmarks.autocomplete [--calls 50] [--pages 30]

Makes PAGES pages on a fresh dev wiki (scripts/devwiki.py, php -S on 127.0.0.1), each saved by
Editor then edited 1-3 times by Vandal, then times `Suggestions.pages` and `Suggestions.users`
(the service the Discord handlers call, over `SuggestReads` on a logged-in `WikiClient`):

- page: what was typed cycles through prefixes of the pages' titles (a recent-changes read and
  a prefix search per cold call: two GETs in parallel on the read lane);
- user (page given): the authors of the page's latest runs (one history GET per cold call);
- user (no page): recent editors (one recent-changes GET per cold call).

Cold uses `cache_seconds=0`; cached repeats one query on a primed cache. Every call is
sequential, as one moderator typing. `php -S` closes every connection, so each GET pays a TCP
connect on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

from bot.services.outcomes import Actor
from bot.services.suggest import Suggestions, SuggestWiki
from bot.wiki.client import WikiClient
from bot.wiki.suggest_reads import SuggestReads

_SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
if str(_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(_SCRIPTS))

import devwiki  # noqa: E402 - scripts/ is not a package; its path is added just above

MOD = Actor(user_id=1, display_name="Bench", role_ids=frozenset({1}), guild_id=1)


class Everyone:
    """Every server may use the one wiki and every member may roll back (no DB here)."""

    def wikis_for(self, guild_id: int) -> list[str]:
        return ["default"]

    async def resolve_wiki(self, guild_id: int, asked: str | None) -> str | None:
        return asked or "default"

    async def is_authorized(self, actor: Actor) -> bool:
        return True


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _line(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{name:<24} p50 {statistics.median(ms):7.2f} ms   p95 {_pct(ms, 95):7.2f} ms"
        f"   max {max(ms):7.2f} ms   (n={len(ms)})"
    )


async def _times(calls: int, call: Callable[[int], Awaitable[list[object]]]) -> list[float]:
    out: list[float] = []
    for i in range(calls):
        start = time.perf_counter()
        found = await call(i)
        out.append(time.perf_counter() - start)
        if not found:
            raise SystemExit(f"call {i} offered nothing: the benchmark is not measuring reads")
    return out


async def measure(wiki: devwiki.RunningWiki, titles: list[str], calls: int) -> None:
    login = wiki.rollbot_login
    async with WikiClient(
        api_url=wiki.api_url,
        username=login.username,
        password=SecretStr(login.password),
        user_agent=wiki.user_agent,
        max_concurrency=1,
    ) as client:
        await client.login()
        reads: dict[str, SuggestWiki] = {"default": SuggestReads(client)}
        cold = Suggestions(wikis=reads, chooser=Everyone(), cache_seconds=0)
        warm = Suggestions(wikis=reads, chooser=Everyone(), cache_seconds=3600)
        prefixes = [title[: 6 + i % 6] for i, title in enumerate(titles)]

        async def page(s: Suggestions, i: int) -> list[object]:
            return list(await s.pages(MOD, wiki=None, typed=prefixes[i % len(prefixes)]))

        async def user(s: Suggestions, i: int) -> list[object]:
            page_title = titles[i % len(titles)]
            return list(await s.users(MOD, wiki=None, page=page_title, typed=""))

        async def editor(s: Suggestions, i: int) -> list[object]:
            return list(await s.users(MOD, wiki=None, page=None, typed=""))

        # Untimed: first-request costs of php -S, and the cached rows' one miss each.
        await page(cold, 0)
        await page(warm, 0)
        await user(warm, 0)
        rows = [
            ("page, cold", await _times(calls, lambda i: page(cold, i))),
            ("page, cached", await _times(calls, lambda i: page(warm, 0))),
            ("user of a page, cold", await _times(calls, lambda i: user(cold, i))),
            ("user of a page, cached", await _times(calls, lambda i: user(warm, 0))),
            ("user (no page), cold", await _times(calls, lambda i: editor(cold, i))),
            ("user (no page), cached", await _times(calls, lambda i: editor(warm, i))),
        ]
    print()
    print(f"{calls} sequential calls each; {len(titles)} pages; php -S on 127.0.0.1")
    for name, values in rows:
        print(_line(name, values))


async def main_async(calls: int, pages: int) -> None:
    reason = devwiki.missing_requirements()
    if reason is not None:
        raise SystemExit(f"no dev wiki possible: {reason}")
    with tempfile.TemporaryDirectory(prefix="rollbot-bench-") as tmp:
        print("building the dev wiki template ...", flush=True)
        template = devwiki.build_template(Path(tmp) / "template")
        wiki = template.start(Path(tmp) / "wiki")
        try:
            print(f"making {pages} pages with runs of vandal edits ...", flush=True)
            titles = [
                wiki.make_vandalised_page(
                    f"Bench page {i:03}", f"Good text {i}.", vandal_edits=1 + i % 3
                ).title
                for i in range(pages)
            ]
            await measure(wiki, titles, calls)
        finally:
            wiki.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=50, help="timed calls per row")
    parser.add_argument("--pages", type=int, default=30, help="pages to create")
    args = parser.parse_args()
    asyncio.run(main_async(args.calls, args.pages))


if __name__ == "__main__":
    main()
