"""Rollback latency on a local dev wiki: rollbot's `WikiClient.rollback` against the floor.

    uv run python -m benchmarks.rollback_floor [--pages 50] [--rounds 3] [--workers 1]

Each round makes 2 x PAGES vandalised pages (Editor, then one Vandal edit) on a fresh dev wiki
(scripts/devwiki.py, php -S on 127.0.0.1) and rolls back every one, sequentially:

- (a) rollbot: `WikiClient.rollback(title, "Vandal", summary=...)` on a logged-in client whose
      rollback token is already cached (a warm-up rollback fetched it), as in the running bot;
- (b) the floor: one raw `httpx` POST `action=rollback` per page with a cached token, the same
      account, summary and event loop; no preview, no `assert`/`maxlag`, no response checks
      beyond "it rolled back".

(a) and (b) alternate page by page (a-b, b-a, ...) so drift in the wiki (its SQLite files
growing, caches warming) hits both alike. Before each pair, rollbot's `WikiClient.preview` reads
both pages (as `execute` re-checks before sending); its cost is reported separately.

Both sides use one long-lived httpx client with keep-alive enabled, but `php -S` answers every
request with `Connection: close`, so each request pays a TCP connect on 127.0.0.1 on both sides
alike: the floor is "one request per rollback", not "one request on a warm connection".
`--workers N` sets PHP_CLI_SERVER_WORKERS (parallel php -S workers); with sequential requests it
changes little.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.wiki.client import WikiClient

_SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
if str(_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(_SCRIPTS))

import devwiki  # noqa: E402 - scripts/ is not a package; its path is added just above

SUMMARY = "Benchmark: reverting test vandalism"
TARGET = devwiki.VANDAL.name


@dataclass
class Timings:
    rollbot: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    preview: list[float] = field(default_factory=list)


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _line(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{name:<26} total {sum(values):7.3f} s   mean {statistics.fmean(ms):6.2f} ms"
        f"   p50 {statistics.median(ms):6.2f} ms   p95 {_pct(ms, 95):6.2f} ms   (n={len(ms)})"
    )


async def _timed(call: Callable[[], Awaitable[object]], into: list[float]) -> object:
    start = time.perf_counter()
    result = await call()
    into.append(time.perf_counter() - start)
    return result


class RawFloor:
    """The least a client can do: log in once, fetch the token once, POST per rollback."""

    def __init__(self, api_url: str, http: httpx.AsyncClient) -> None:
        self.api_url = api_url
        self.http = http
        self.token = ""

    async def login(self, username: str, password: str) -> None:
        base = {"format": "json", "formatversion": "2"}
        data = (
            await self.http.get(
                self.api_url, params={**base, "action": "query", "meta": "tokens", "type": "login"}
            )
        ).json()
        response = await self.http.post(
            self.api_url,
            data={
                **base,
                "action": "login",
                "lgname": username,
                "lgpassword": password,
                "lgtoken": data["query"]["tokens"]["logintoken"],
            },
        )
        assert response.json()["login"]["result"] == "Success", response.text
        data = (
            await self.http.get(
                self.api_url,
                params={**base, "action": "query", "meta": "tokens", "type": "rollback"},
            )
        ).json()
        self.token = data["query"]["tokens"]["rollbacktoken"]

    async def rollback(self, title: str) -> None:
        response = await self.http.post(
            self.api_url,
            data={
                "action": "rollback",
                "title": title,
                "user": TARGET,
                "summary": SUMMARY,
                "token": self.token,
                "format": "json",
                "formatversion": "2",
            },
        )
        assert "rollback" in response.json(), response.text


async def run_round(wiki: devwiki.RunningWiki, round_no: int, pages: int, into: Timings) -> None:
    def vandalise(name: str) -> str:
        return wiki.make_vandalised_page(name, f"Good text of {name}.", vandal_edits=1).title

    print(f"round {round_no}: making {2 * pages + 2} vandalised pages ...", flush=True)
    a_pages = [vandalise(f"Bench {round_no} a{i}") for i in range(pages)]
    b_pages = [vandalise(f"Bench {round_no} b{i}") for i in range(pages)]
    warm_a, warm_b = vandalise(f"Bench {round_no} warm a"), vandalise(f"Bench {round_no} warm b")

    login = wiki.rollbot_login
    headers = {"User-Agent": wiki.user_agent}
    async with (
        httpx.AsyncClient(timeout=30, headers=headers) as raw_http,
        WikiClient(
            api_url=wiki.api_url,
            username=login.username,
            password=SecretStr(login.password),
            user_agent=wiki.user_agent,
            timeout=30,
        ) as client,
    ):
        floor = RawFloor(wiki.api_url, raw_http)
        await floor.login(login.username, login.password)
        # Warm-up, untimed: log in, fetch and cache the rollback token, first-request costs.
        await client.preview(warm_a, TARGET)
        await client.rollback(warm_a, TARGET, summary=SUMMARY)
        await floor.rollback(warm_b)

        for i, (a_page, b_page) in enumerate(zip(a_pages, b_pages, strict=True)):
            await _timed(lambda p=a_page: client.preview(p, TARGET), into.preview)
            await _timed(lambda p=b_page: client.preview(p, TARGET), into.preview)
            steps = [
                (lambda p=a_page: client.rollback(p, TARGET, summary=SUMMARY), into.rollbot),
                (lambda p=b_page: floor.rollback(p), into.floor),
            ]
            for call, sink in steps if i % 2 == 0 else steps[::-1]:
                await _timed(call, sink)


async def main_async(pages: int, rounds: int, workers: int) -> None:
    reason = devwiki.missing_requirements()
    if reason is not None:
        raise SystemExit(f"no dev wiki possible: {reason}")
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="rollbot-bench-") as tmp:
        print("building the dev wiki template ...", flush=True)
        template = devwiki.build_template(Path(tmp) / "template")
        for round_no in range(1, rounds + 1):
            wiki = template.start(Path(tmp) / f"wiki-{round_no}", workers=workers)
            try:
                await run_round(wiki, round_no, pages, timings)
            finally:
                wiki.stop()

    print()
    print(
        f"{rounds} round(s) x {pages} sequential rollbacks each side, interleaved; "
        f"php -S on 127.0.0.1, PHP_CLI_SERVER_WORKERS={workers}, Connection: close"
    )
    print(_line("(a) rollbot rollback", timings.rollbot))
    print(_line("(b) floor: raw POST", timings.floor))
    print(_line("preview (rollbot, apart)", timings.preview))
    ratio_total = sum(timings.rollbot) / sum(timings.floor)
    ratio_p50 = statistics.median(timings.rollbot) / statistics.median(timings.floor)
    verdict = "meets" if ratio_total <= 1.1 else "MISSES"
    print(
        f"ratio rollbot/floor: total {ratio_total:.3f}, p50 {ratio_p50:.3f}  "
        f"({verdict} the <= 1.1 target)"
    )
    per_confirm = statistics.fmean(timings.rollbot) + statistics.fmean(timings.preview)
    print(f"a Confirm's wiki time (preview + rollback), mean: {per_confirm * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50, help="rollbacks per side per round")
    parser.add_argument("--rounds", type=int, default=3, help="fresh wikis, results pooled")
    parser.add_argument("--workers", type=int, default=1, help="PHP_CLI_SERVER_WORKERS")
    args = parser.parse_args()
    asyncio.run(main_async(args.pages, args.rounds, args.workers))


if __name__ == "__main__":
    main()
