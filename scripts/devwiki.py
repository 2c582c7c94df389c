"""A throwaway MediaWiki for rollbot: for humans trying the bot locally and for integration tests.

It uses Debian's packaged MediaWiki (``/usr/share/mediawiki``, 1.39) and ``php -S``; nothing
under ``/usr/share/mediawiki`` or ``/etc`` is changed. Every wiki lives in a directory of its own
(``LocalSettings.php``, SQLite files, caches, logs), found by MediaWiki through the
``MW_CONFIG_FILE`` environment variable, both for the web server and for maintenance scripts.

Building a wiki (``install.php``, accounts, BotPasswords) takes about a second and a half, so it is
done once into a *template*; a fresh wiki is a copy of the template plus a ``php -S`` on
127.0.0.1 (a fraction of a second).

Several wikis can run side by side, each with a *name*: ``default`` (the site "DevWiki") and any
other, say ``second`` ("DevWiki second"). The accounts are the same on all of them but every
password differs (:func:`wiki_variant`), so a credential used on the wrong wiki fails to log in.
Each name has its own template and directory.

Command line (``scripts/dev-wiki.sh`` wraps ``uv run python scripts/devwiki.py``)::

    scripts/dev-wiki.sh up [--port 8080] [--fresh]  start (or resume) .devwiki/wiki, print .env
        [--temp-accounts | --no-temp-accounts]       logged-out web edits make temporary accounts
    scripts/dev-wiki.sh env                          print the .env lines again
    scripts/dev-wiki.sh status                       running or not, where, and the accounts
    scripts/dev-wiki.sh vandalise TITLE [--edits N]  TITLE: Editor's text, then N edits by Vandal
    scripts/dev-wiki.sh ratelimit N|off              rollbacks: N per 60 s per user, or no limit
    scripts/dev-wiki.sh down                         stop the server (the wiki's data stays)

Every command takes ``--name NAME``: ``up --name second`` starts .devwiki-second/wiki on port
8081 (or ``--port``) and prints ``WIKI_SECOND_*`` lines, for rollbot's ``WIKIS=second``.

Python (tests)::

    template = build_template(tmp / "template")    # name="second" for the second wiki
    wiki = template.start(tmp / "wiki-1")          # a free port is picked
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=2)
    wiki.stop()
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

MEDIAWIKI_DIR = Path(os.environ.get("DEVWIKI_MEDIAWIKI_DIR", "/usr/share/mediawiki"))
PHP = os.environ.get("DEVWIKI_PHP", "php")
HOST = "127.0.0.1"  # never anything else
DB_NAME = "devwiki"
SITE_NAME = "DevWiki"
USER_AGENT = "rollbot-devwiki/0.1 (throwaway local test wiki; rollbot-dev@example.invalid)"
BOT_USER_AGENT = (
    "rollbot-dev/0.1 (local development against scripts/devwiki.py; rollbot-dev@example.invalid)"
)
DEFAULT_RATE_LIMIT_SECONDS = 60
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0

# Debian packages a dev wiki needs; `.ci/run` installs the same list. micro-httpd and
# php8.2-cgi satisfy mediawiki's `apache2 | httpd` and php's SAPI dependencies without apache2.
DEBIAN_PACKAGES = (
    "mediawiki",
    "php8.2-cli",
    "php8.2-cgi",
    "php-sqlite3",
    "php-intl",
    "php-mbstring",
    "php-xml",
    "micro-httpd",
)


class DevWikiError(RuntimeError):
    """Building, starting, stopping or seeding a dev wiki failed."""


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A wiki account. ``password`` is the main password (web UI, ``clientlogin``)."""

    name: str
    password: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class BotLogin:
    """A BotPassword: log in with ``action=login`` as ``username`` (``User@appid``)."""

    username: str
    password: str
    grants: tuple[str, ...]

    @property
    def user(self) -> str:
        return self.username.split("@", 1)[0]

    @property
    def app_id(self) -> str:
        return self.username.split("@", 1)[1]


_ROLLBOT_GRANTS = ("basic", "editpage", "createeditmovepage", "rollback", "highvolume")
_EDIT_GRANTS = ("basic", "editpage", "createeditmovepage")
# Every grant MediaWiki 1.39 knows (`createBotPassword.php --showgrants`).
ALL_GRANTS = (
    "basic", "blockusers", "createaccount", "createeditmovepage", "delete", "editinterface",
    "editmycssjs", "editmyoptions", "editmywatchlist", "editpage", "editprotected",
    "editsiteconfig", "highvolume", "import", "mergehistory", "oversight", "patrol",
    "privateinfo", "protect", "rollback", "sendemail", "uploadeditmovefile", "uploadfile",
    "viewdeleted", "viewmywatchlist", "viewrestrictedlogs",
)  # fmt: skip

DEFAULT_NAME = "default"
# The same form as rollbot's wiki keys (WIKIS): a name is also an env prefix, WIKI_<NAME>_.
_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _bot_password(slug: str, name: str = DEFAULT_NAME) -> str:
    """A fixed BotPassword (throwaway wiki), different on every named wiki. For ``action=login``
    to treat a password as a BotPassword it must match ``^[0-9a-w]{32,}$`` -- only digits and
    the letters a to w! ``createBotPassword.php`` accepts any 32 characters, but then login
    falls back to the main password and fails with a plain "Incorrect username or password".
    """
    # Hex digits are all in [0-9a-w]; a name itself may hold x, y, z or '-'.
    tail = "" if name == DEFAULT_NAME else hashlib.sha256(name.encode()).hexdigest()[:12]
    password = (slug + tail).ljust(32, "0")
    if not re.fullmatch(r"[0-9a-w]{32,}", password):
        raise ValueError(f"unusable BotPassword {password!r}")
    return password


@dataclass(frozen=True)
class WikiVariant:
    """What sets one dev wiki apart from another served beside it.

    Account and BotPassword names are the same on every wiki; their passwords are not, so a
    credential used on the wrong wiki fails to log in. ``db_name`` also prefixes MediaWiki's
    cookie names: wikis on one host but different ports share a cookie jar (cookies ignore
    ports), so equal names would let one wiki's session cookie overwrite the other's.
    """

    name: str
    site_name: str
    db_name: str
    admin: Account
    rollbot: Account
    editor: Account
    vandal: Account
    norights: Account
    rollbot_login: BotLogin
    # Rollbot without the rollback grant: permissiondenied.
    norollback_login: BotLogin
    # markbot=1 needs the `markbotedits` or the `bot` right (RollbackPage::markAsBot); Rollbot
    # has `bot` through its group, but the `highvolume` grant is what carries both into a
    # BotPassword session. Without it MediaWiki silently ignores markbot=1: the rollback
    # succeeds, unflagged.
    nobot_login: BotLogin
    # Norights has every grant but not the `rollback` right itself: still `permissiondenied`.
    norights_login: BotLogin
    editor_login: BotLogin
    vandal_login: BotLogin

    @property
    def accounts(self) -> tuple[Account, ...]:
        return (self.admin, self.rollbot, self.editor, self.vandal, self.norights)

    @property
    def bot_logins(self) -> tuple[BotLogin, ...]:
        return (
            self.rollbot_login,
            self.norollback_login,
            self.nobot_login,
            self.norights_login,
            self.editor_login,
            self.vandal_login,
        )

    @property
    def seed_logins(self) -> dict[str, BotLogin]:
        """Who ``RunningWiki.edit`` can edit as: account name -> BotPassword."""
        return {self.editor.name: self.editor_login, self.vandal.name: self.vandal_login}

    @property
    def env_prefix(self) -> str:
        """``WIKI_`` for the default wiki, ``WIKI_<NAME>_`` for a named one (rollbot's WIKIS)."""
        if self.name == DEFAULT_NAME:
            return "WIKI_"
        return f"WIKI_{self.name.upper().replace('-', '_')}_"


@functools.cache
def wiki_variant(name: str = DEFAULT_NAME) -> WikiVariant:
    """The accounts, passwords and site name of the dev wiki called ``name``.

    ``"default"`` is the one wiki there was before names: DevWiki, ``devwiki-Admin-password``
    and so on, unchanged. Another name, say ``second``, gives the site "DevWiki second" and
    passwords of its own.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a wiki name (lower-case letters, digits and '-', "
            "starting with a letter, at most 32)"
        )
    default = name == DEFAULT_NAME
    infix = "" if default else f"{name}-"

    def account(user: str, *groups: str) -> Account:
        return Account(user, f"devwiki-{infix}{user}-password", groups)

    def login(username: str, slug: str, grants: tuple[str, ...]) -> BotLogin:
        return BotLogin(username, _bot_password(slug, name), grants)

    return WikiVariant(
        name=name,
        site_name=SITE_NAME if default else f"{SITE_NAME} {name}",
        db_name=DB_NAME if default else f"{DB_NAME}_{name.replace('-', '_')}",
        admin=account("Admin", "sysop", "bureaucrat"),
        rollbot=account("Rollbot", "bot", "rollbacker"),
        editor=account("Editor"),
        vandal=account("Vandal"),
        norights=account("Norights"),
        rollbot_login=login("Rollbot@rollbot", "rollbotrollbot", _ROLLBOT_GRANTS),
        norollback_login=login(
            "Rollbot@norollback",
            "rollbotnorollback",
            tuple(g for g in _ROLLBOT_GRANTS if g != "rollback"),
        ),
        nobot_login=login(
            "Rollbot@nobot",
            "rollbotnobot",
            tuple(g for g in _ROLLBOT_GRANTS if g != "highvolume"),
        ),
        norights_login=login("Norights@all", "norightsall", ALL_GRANTS),
        editor_login=login("Editor@seed", "editorseed", _EDIT_GRANTS),
        vandal_login=login("Vandal@seed", "vandalseed", _EDIT_GRANTS),
    )


# The default wiki's accounts, by their old names.
DEFAULT_VARIANT = wiki_variant(DEFAULT_NAME)
ADMIN = DEFAULT_VARIANT.admin
ROLLBOT = DEFAULT_VARIANT.rollbot
EDITOR = DEFAULT_VARIANT.editor
VANDAL = DEFAULT_VARIANT.vandal
NORIGHTS = DEFAULT_VARIANT.norights
ACCOUNTS = DEFAULT_VARIANT.accounts
ROLLBOT_LOGIN = DEFAULT_VARIANT.rollbot_login
NOROLLBACK_LOGIN = DEFAULT_VARIANT.norollback_login
NOBOT_LOGIN = DEFAULT_VARIANT.nobot_login
NORIGHTS_LOGIN = DEFAULT_VARIANT.norights_login
EDITOR_LOGIN = DEFAULT_VARIANT.editor_login
VANDAL_LOGIN = DEFAULT_VARIANT.vandal_login
BOT_LOGINS = DEFAULT_VARIANT.bot_logins

# Loaded at the end of LocalSettings.php. `devwiki.json` is read on every request (php -S runs
# the entry point afresh each time), so the tool can flip settings on a running wiki; it is
# JSON rather than PHP so OPcache (on in php -S, revalidating every 2 s) can't serve stale values.
_DEVWIKI_SETTINGS = r"""<?php
// Written by rollbot's scripts/devwiki.py -- a throwaway local wiki. Do not deploy.
$devwikiState = json_decode( file_get_contents( __DIR__ . '/devwiki.json' ), true );

$wgServer = $devwikiState['server'];
$wgCanonicalServer = $wgServer;

// Debian's PlatformSettings.php points these at system folders; keep everything in this dir.
$wgCacheDirectory = __DIR__ . '/cache';
$wgUploadDirectory = __DIR__ . '/images';
$wgDBerrorLog = __DIR__ . '/logs/dberror.log';
$wgDebugLogGroups['exception'] = __DIR__ . '/logs/exception.log';
$wgDebugLogGroups['error'] = __DIR__ . '/logs/error.log';
$wgDebugLogGroups['fatal'] = __DIR__ . '/logs/fatal.log';
$wgDebugLogGroups['ratelimit'] = __DIR__ . '/logs/ratelimit.log';
$wgShowExceptionDetails = true;

// Rate limits and the login throttle need a persistent object cache (CACHE_NONE would
// silently disable them); the installer already configured CACHE_DB as a SQLite file.
$wgMainCacheType = CACHE_DB;
$wgJobRunRate = 0;
$wgEnableEmail = false;
$wgPasswordAttemptThrottle = [];

// `rollbacker`: the rollback right alone (sysop has it too, but also noratelimit).
$wgGroupPermissions['rollbacker']['rollback'] = true;
// Admin hides offensive user names (revision deletion), as on Wikimedia wikis' sysops.
$wgGroupPermissions['sysop']['deleterevision'] = true;

// Temporary accounts (1.39's experimental $wgAutoCreateTempUser), off unless switched on by
// `devwiki.py up --temp-accounts` / set_temp_accounts(True). A logged-out edit in the web
// editor is then saved by a new account "*Unregistered N" (1.39 makes none for API edits).
// Logged-out users need `edit` and `createaccount`, which '*' has by default. The whole array
// is given: 1.39 does not merge a partial one with the defaults.
if ( !empty( $devwikiState['temp_accounts'] ) ) {
	$wgAutoCreateTempUser = [
		'enabled' => true,
		'actions' => [ 'edit' ],
		'genPattern' => '*Unregistered $1',
		'matchPattern' => '*$1',
		'serialProvider' => [ 'type' => 'local' ],
		'serialMapping' => [ 'type' => 'plain-numeric' ],
	];
}

// Rate limits off unless switched on by `devwiki.py ratelimit N` / set_rollback_rate_limit().
// No group of the test accounts but sysop/bureaucrat (Admin) has `noratelimit`.
$wgRateLimits = [];
if ( isset( $devwikiState['rollback_rate_limit'] ) ) {
	$wgRateLimits['rollback'] = [
		'user' => $devwikiState['rollback_rate_limit'],
		'newbie' => $devwikiState['rollback_rate_limit'],
	];
}
"""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def missing_requirements(mediawiki_dir: Path = MEDIAWIKI_DIR) -> str | None:
    """Why a dev wiki can't run here (one line), or None if PHP and MediaWiki are installed."""
    if shutil.which(PHP) is None:
        return f"PHP CLI not found ({PHP!r}); apt-get install {' '.join(DEBIAN_PACKAGES)}"
    if not (mediawiki_dir / "maintenance" / "install.php").is_file():
        return (
            f"MediaWiki not found at {mediawiki_dir}; apt-get install {' '.join(DEBIAN_PACKAGES)}"
        )
    extensions = ("pdo_sqlite", "intl", "mbstring", "dom", "xml")
    check = " && ".join(f"extension_loaded('{name}')" for name in extensions)
    probe = subprocess.run([PHP, "-r", f"exit({check} ? 0 : 1);"], capture_output=True, check=False)
    if probe.returncode != 0:
        return (
            f"PHP lacks one of {', '.join(extensions)}; apt-get install {' '.join(DEBIAN_PACKAGES)}"
        )
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _settings_fingerprint(variant: WikiVariant) -> str:
    """Changes whenever what a template contains would change; stale templates are rebuilt."""
    digest = hashlib.sha256()
    digest.update(_DEVWIKI_SETTINGS.encode())
    digest.update(repr(variant).encode())
    version_file = MEDIAWIKI_DIR / "includes" / "Defines.php"
    if version_file.is_file():
        digest.update(str(version_file.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _run_php(
    wiki_dir: Path,
    args: Sequence[str],
    *,
    stdin: str | None = None,
    mediawiki_dir: Path = MEDIAWIKI_DIR,
) -> str:
    env = {**os.environ, "MW_CONFIG_FILE": str(wiki_dir / "LocalSettings.php")}
    result = subprocess.run(
        [PHP, *args],
        cwd=mediawiki_dir,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise DevWikiError(
            f"php {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def process_group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in process group ``pgid`` (Linux /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def is_dev_wiki_server(pid: int, port: int) -> bool:
    """Whether ``pid`` is (still) a ``php -S 127.0.0.1:port`` -- guards against reused pids."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"-S" in argv and f"{HOST}:{port}".encode() in argv


def _wait_gone(pgid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # poll() reaps our own child; workers are reaped by it or, once it is gone, by init.
        if (proc is None or proc.poll() is not None) and not process_group_alive(pgid):
            return True
        time.sleep(0.02)
    return False


def _stop_group(pgid: int, proc: subprocess.Popen[bytes] | None, port: int) -> None:
    """TERM the server's process group, KILL it if it lingers, reap it, wait for the port."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        if _wait_gone(pgid, proc, STOP_TIMEOUT):
            break
    else:
        raise DevWikiError(f"php -S (process group {pgid}) survived SIGKILL")
    deadline = time.monotonic() + STOP_TIMEOUT
    while port_accepts(port):
        if time.monotonic() > deadline:
            raise DevWikiError(f"port {port} still accepts connections after stopping the wiki")
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------
# Template
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """An installed wiki that is never run; fresh wikis are copies of it (same ``variant``)."""

    path: Path
    variant: WikiVariant = DEFAULT_VARIANT

    def start(self, workdir: Path, port: int | None = None, *, workers: int = 1) -> RunningWiki:
        """Copy the template to ``workdir`` (must not exist) and serve it on 127.0.0.1.

        ``port=None`` picks a free port. ``workers`` > 1 lets php -S answer requests in
        parallel (PHP_CLI_SERVER_WORKERS); the default 1 serialises them like a tiny wiki.
        """
        shutil.copytree(self.path, workdir, symlinks=True)
        (workdir / "template.json").unlink(missing_ok=True)
        wiki = RunningWiki(workdir, port or free_port(), workers=workers, variant=self.variant)
        try:
            wiki.start(pick_port_on_conflict=port is None)
        except BaseException:
            wiki.close_clients()
            raise
        return wiki


def build_template(
    directory: Path, *, name: str = DEFAULT_NAME, mediawiki_dir: Path = MEDIAWIKI_DIR
) -> Template:
    """Install MediaWiki into ``directory`` (created; must not exist) with all the accounts.

    ``name`` picks the site name and passwords (:func:`wiki_variant`); a wiki to run beside
    the default one needs a template of its own name, built once like the default's.
    """
    variant = wiki_variant(name)
    reason = missing_requirements(mediawiki_dir)
    if reason is not None:
        raise DevWikiError(reason)
    if directory.exists():
        raise DevWikiError(f"{directory} already exists")
    directory = directory.resolve()
    building = directory.with_name(directory.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    for sub in ("data", "cache", "images", "logs"):
        (building / sub).mkdir(parents=True)
    # The port here is a placeholder; every started copy writes its own server URL.
    _write_json_atomic(
        building / "devwiki.json",
        {"server": f"http://{HOST}:8080", "rollback_rate_limit": None, "name": variant.name},
    )
    passfile = building / "admin-password.txt"
    passfile.write_text(variant.admin.password)

    def php(*args: str) -> str:
        return _run_php(building, args, mediawiki_dir=mediawiki_dir)

    php(
        "maintenance/install.php",
        "--dbtype=sqlite",
        f"--dbpath={building / 'data'}",
        f"--dbname={variant.db_name}",
        f"--server=http://{HOST}:8080",
        "--scriptpath=",
        "--lang=en",
        f"--passfile={passfile}",
        # Debian's $IP/LocalSettings.php is a symlink into /etc/mediawiki: write ours here.
        f"--confpath={building}",
        "--skins=Vector",
        variant.site_name,
        variant.admin.name,
    )
    passfile.unlink()
    settings = building / "LocalSettings.php"
    text = settings.read_text()
    # Make the copy relocatable: the installer writes the absolute data directory.
    text, count = re.subn(
        r"^\$wgSQLiteDataDir = .*$",
        lambda _m: "$wgSQLiteDataDir = __DIR__ . '/data';",
        text,
        flags=re.MULTILINE,
    )
    if count != 1:
        raise DevWikiError("install.php wrote no $wgSQLiteDataDir line to patch")
    text += '\nrequire_once __DIR__ . "/DevWikiSettings.php";\n'
    (building / "DevWikiSettings.php").write_text(_DEVWIKI_SETTINGS)
    settings.write_text(text)

    for account in variant.accounts:
        if account is variant.admin:  # made by install.php (sysop, bureaucrat)
            continue
        groups = ["--custom-groups=" + ",".join(account.groups)] if account.groups else []
        php("maintenance/createAndPromote.php", *groups, account.name, account.password)
    for login in variant.bot_logins:
        php(
            "maintenance/createBotPassword.php",
            f"--appid={login.app_id}",
            f"--grants={','.join(login.grants)}",
            login.user,
            login.password,
        )
    # Fill the localisation cache now, so no fresh wiki pays for it.
    php("maintenance/rebuildLocalisationCache.php", "--lang=en", "--quiet")
    _write_json_atomic(building / "template.json", {"fingerprint": _settings_fingerprint(variant)})
    building.rename(directory)
    return Template(directory, variant)


def ensure_template(directory: Path, name: str = DEFAULT_NAME) -> Template:
    """Reuse ``directory`` if it is an up-to-date template of ``name``, else (re)build it."""
    variant = wiki_variant(name)
    marker = directory / "template.json"
    if marker.is_file():
        with contextlib.suppress(ValueError, KeyError):
            if json.loads(marker.read_text())["fingerprint"] == _settings_fingerprint(variant):
                return Template(directory.resolve(), variant)
    shutil.rmtree(directory, ignore_errors=True)
    return build_template(directory, name=name)


# --------------------------------------------------------------------------------------------
# A running wiki
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    revid: int
    parentid: int
    user: str
    comment: str
    content: str
    timestamp: str
    tags: tuple[str, ...]
    minor: bool


@dataclass(frozen=True)
class RecentChange:
    revid: int
    user: str
    comment: str
    bot: bool
    type: str


@dataclass(frozen=True)
class VandalisedPage:
    """What ``make_vandalised_page`` made: one good revision, then the vandal's."""

    title: str
    good_text: str
    good_revid: int
    vandal_texts: tuple[str, ...]
    vandal_revids: tuple[int, ...]

    @property
    def latest_revid(self) -> int:
        return self.vandal_revids[-1] if self.vandal_revids else self.good_revid


@dataclass
class RunningWiki:
    """A wiki served by ``php -S 127.0.0.1:port`` from its own directory ``path``.

    Made by :meth:`Template.start`, or attached to a server started earlier with
    :meth:`attach` (the CLI). All helpers are synchronous and safe to call from async tests.
    """

    path: Path
    port: int
    workers: int = 1
    pid: int | None = None
    # Site name and passwords; the template's, recorded in devwiki.json for `attach`.
    variant: WikiVariant = DEFAULT_VARIANT
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _clients: dict[str, httpx.Client] = field(default_factory=dict, repr=False)

    user_agent: ClassVar[str] = BOT_USER_AGENT

    # ---- who is who (the account names are the same on every wiki, passwords are not) -------

    @property
    def name(self) -> str:
        return self.variant.name

    @property
    def site_name(self) -> str:
        """``$wgSitename``, as ``meta=siteinfo`` reports it."""
        return self.variant.site_name

    @property
    def admin(self) -> Account:
        return self.variant.admin

    @property
    def rollbot(self) -> Account:
        return self.variant.rollbot

    @property
    def editor(self) -> Account:
        return self.variant.editor

    @property
    def vandal(self) -> Account:
        return self.variant.vandal

    @property
    def norights(self) -> Account:
        return self.variant.norights

    @property
    def rollbot_login(self) -> BotLogin:
        return self.variant.rollbot_login

    @property
    def norollback_login(self) -> BotLogin:
        return self.variant.norollback_login

    @property
    def nobot_login(self) -> BotLogin:
        return self.variant.nobot_login

    @property
    def norights_login(self) -> BotLogin:
        return self.variant.norights_login

    # ---- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api.php"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/index.php"

    @property
    def log_path(self) -> Path:
        """php -S output (one line per request) and PHP warnings."""
        return self.path / "logs" / "php-server.log"

    def env(self) -> dict[str, str]:
        """The rollbot settings (``.env`` lines) that point the bot at this wiki as Rollbot:
        ``WIKI_*`` for the default wiki, ``WIKI_<NAME>_*`` for a named one (add the name to
        ``WIKIS``)."""
        prefix = self.variant.env_prefix
        return {
            f"{prefix}API_URL": self.api_url,
            f"{prefix}USERNAME": self.rollbot_login.username,
            f"{prefix}PASSWORD": self.rollbot_login.password,
            f"{prefix}USER_AGENT": self.user_agent,
        }

    # ---- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def at(cls, path: Path, port: int) -> Self:
        """The (stopped) wiki in ``path``, a copy of a template, to serve on ``port``."""
        state = json.loads((path / "devwiki.json").read_text())
        # Wikis copied before names existed have none: they are the default wiki.
        variant = wiki_variant(str(state.get("name", DEFAULT_NAME)))
        return cls(path.resolve(), port, variant=variant)

    @classmethod
    def attach(cls, path: Path) -> Self:
        """The wiki in ``path`` as recorded by the CLI (server.json); it may not be running."""
        info = json.loads((path / "server.json").read_text())
        wiki = cls.at(path, int(info["port"]))
        wiki.pid = int(info["pid"])
        return wiki

    @property
    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and is_dev_wiki_server(self.pid, self.port)

    def start(self, *, pick_port_on_conflict: bool = False) -> None:
        """Serve ``path`` (again). Picks another free port if asked and the port was taken."""
        if self.running:
            raise DevWikiError(f"the wiki in {self.path} is already running (pid {self.pid})")
        for attempt in range(5):
            try:
                self._spawn()
            except DevWikiError:
                if not pick_port_on_conflict or attempt == 4 or not port_accepts(self.port):
                    raise
                self.port = free_port()
            else:
                return

    def _spawn(self) -> None:
        if port_accepts(self.port):
            raise DevWikiError(f"port {self.port} on {HOST} is already in use")
        state_file = self.path / "devwiki.json"
        state = json.loads(state_file.read_text())
        state["server"] = self.base_url
        _write_json_atomic(state_file, state)
        env = {
            **os.environ,
            "MW_CONFIG_FILE": str(self.path / "LocalSettings.php"),
            "PHP_CLI_SERVER_WORKERS": str(self.workers),
        }
        if self.workers <= 1:
            env.pop("PHP_CLI_SERVER_WORKERS")
        self.log_path.parent.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            # Own process group (session): stop() signals the server and its workers together.
            self._proc = subprocess.Popen(
                [PHP, "-S", f"{HOST}:{self.port}", "-t", str(MEDIAWIKI_DIR)],
                cwd=MEDIAWIKI_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        _write_json_atomic(self.path / "server.json", {"pid": self.pid, "port": self.port})
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise DevWikiError(
                    f"php -S exited with {self._proc.returncode}:\n{self._log_tail()}"
                )
            try:
                response = httpx.get(
                    self.api_url,
                    params={"action": "query", "meta": "siteinfo", "format": "json"},
                    headers={"User-Agent": USER_AGENT},
                    timeout=5,
                )
                if response.status_code == 200 and "query" in response.json():
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
            except (httpx.TransportError, ValueError) as exc:
                last_error = repr(exc)
            time.sleep(0.05)
        raise DevWikiError(f"wiki on port {self.port} not ready: {last_error}\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (its whole process group), reap it, and wait until the port is free.

        The wiki's data stays; :meth:`start` serves it again. Idempotent.
        """
        self.close_clients()
        # An attached wiki (CLI) whose server is gone: its pid may belong to someone else now.
        ours = self._proc is not None or (
            self.pid is not None and is_dev_wiki_server(self.pid, self.port)
        )
        if self.pid is not None and ours:
            _stop_group(self.pid, self._proc, self.port)
        self._proc = None
        self.pid = None
        (self.path / "server.json").unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop and start again on the same port, with the same data (sessions survive)."""
        self.stop()
        self.start()

    def detach(self) -> None:
        """Forget the child process (keep the pid): the server outlives this Python process."""
        self.close_clients()
        self._proc = None

    def close_clients(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- settings ----------------------------------------------------------------------------

    def set_rollback_rate_limit(
        self, limit: int | None, seconds: int = DEFAULT_RATE_LIMIT_SECONDS
    ) -> None:
        """Allow ``limit`` rollbacks per ``seconds`` per user (``None``: no limit, the default).

        Takes effect on the next request. Failed attempts count too, as in MediaWiki. Counters
        live in the object cache, so switching off and on again within ``seconds`` keeps them.
        """
        state_file = self.path / "devwiki.json"
        state = json.loads(state_file.read_text())
        state["rollback_rate_limit"] = None if limit is None else [int(limit), int(seconds)]
        _write_json_atomic(state_file, state)

    def set_temp_accounts(self, enabled: bool) -> None:
        """Switch MediaWiki 1.39's temporary accounts on or off (next request on).

        On, a logged-out edit in the web editor (:meth:`anonymous_edit`) is saved by a new
        account named ``*Unregistered N``; off, by the editor's IP address."""
        state_file = self.path / "devwiki.json"
        state = json.loads(state_file.read_text())
        state["temp_accounts"] = bool(enabled)
        _write_json_atomic(state_file, state)

    # ---- seeding and reading -----------------------------------------------------------------

    def maintenance(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run ``maintenance/<script>.php`` against this wiki; its stdout. ~0.1-0.3 s each."""
        name = script if script.endswith(".php") else f"{script}.php"
        return _run_php(self.path, [f"maintenance/{name}", *args], stdin=stdin)

    def client(self, login: BotLogin | None = None) -> httpx.Client:
        """An httpx client for api.php, logged in with ``login`` (anonymous if None). Cached."""
        key = login.username if login else ""
        client = self._clients.get(key)
        if client is None:
            client = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=30)
            if login is not None:
                api_login(client, self.api_url, login.username, login.password)
            self._clients[key] = client
        return client

    def edit(self, title: str, text: str, *, user: str = EDITOR.name, summary: str = "") -> int:
        """Save ``text`` to ``title`` as ``user`` ("Editor" or "Vandal") via the API; new revid."""
        seed_logins = self.variant.seed_logins
        login = seed_logins.get(user)
        if login is None:
            raise DevWikiError(f"edit() edits as {sorted(seed_logins)}, not {user!r}")
        client = self.client(login)
        token = api_token(client, self.api_url, "csrf")
        data = api_post(
            client,
            self.api_url,
            {
                "action": "edit",
                "title": title,
                "text": text,
                "summary": summary,
                "token": token,
                "assert": "user",
            },
        )
        result = data["edit"]
        if result.get("result") != "Success" or "newrevid" not in result:
            raise DevWikiError(f"edit of {title!r} as {user} made no new revision: {result}")
        return int(result["newrevid"])

    def anonymous_edit(
        self, title: str, text: str, *, summary: str = "", browser: httpx.Client | None = None
    ) -> Revision:
        """Save ``text`` to ``title`` logged out, through the web editor as a browser does
        (MediaWiki 1.39 creates temporary accounts there only, not for API edits); the new
        revision, whose ``user`` is the temporary account or the IP address.

        Each call is a new visitor, hence a new temporary account, unless the same
        ``browser`` (an ``httpx.Client`` keeping the session cookies) is passed again."""
        with contextlib.ExitStack() as stack:
            if browser is None:
                browser = stack.enter_context(
                    httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=30)
                )
            form = browser.get(self.index_url, params={"title": title, "action": "edit"})
            form.raise_for_status()
            fields = _hidden_inputs(form.text)
            if "wpEditToken" not in fields:
                raise DevWikiError(f"no edit form for {title!r} (logged out)")
            saved = browser.post(
                self.index_url,
                params={"title": title, "action": "submit"},
                data={**fields, "wpTextbox1": text, "wpSummary": summary, "wpSave": "Save"},
            )
            if saved.status_code not in (200, 302, 303):
                saved.raise_for_status()
        newest = self.revisions(title, limit=1)
        if not newest or newest[0].content.rstrip("\n") != text.rstrip("\n"):
            raise DevWikiError(f"logged-out edit of {title!r} was not saved: {saved.text[-500:]}")
        return newest[0]

    def make_vandalised_page(
        self,
        title: str,
        good_text: str,
        vandal_edits: int = 2,
        *,
        editor: str = EDITOR.name,
        vandal: str = VANDAL.name,
        vandal_texts: Sequence[str] | None = None,
    ) -> VandalisedPage:
        """``editor`` saves ``good_text``, then ``vandal`` makes ``vandal_edits`` edits.

        Rolling back ``vandal`` on ``title`` must restore ``good_text`` (revision ``good_revid``).
        """
        texts = (
            tuple(vandal_texts)
            if vandal_texts is not None
            else tuple(
                f"VANDALISM #{i + 1} by {vandal}\n\n{good_text}" for i in range(vandal_edits)
            )
        )
        good_revid = self.edit(title, good_text, user=editor, summary="good content")
        revids = tuple(
            self.edit(title, text, user=vandal, summary=f"vandalism {i + 1}")
            for i, text in enumerate(texts)
        )
        return VandalisedPage(title, good_text, good_revid, texts, revids)

    def protect(self, title: str, *, level: str = "sysop", reason: str = "devwiki test") -> None:
        """Protect ``title`` for edit and move: ``sysop`` (full) or ``autoconfirmed`` (semi).

        Rollbot is a bot, hence autoconfirmed, so only full protection stops its rollbacks
        (``protectedpage``).
        """
        if level not in {"sysop", "autoconfirmed"}:
            raise ValueError(f"level must be 'sysop' or 'autoconfirmed', not {level!r}")
        semi = ["--semiprotect"] if level == "autoconfirmed" else []
        admin = self.admin.name
        self.maintenance("protect", *semi, f"--user={admin}", f"--reason={reason}", title)

    def hide_user(self, title: str, *revids: int) -> None:
        """Revision-delete the author name of ``revids`` on ``title`` (as Admin), as admins do
        with offensive user names: readers without ``deletedhistory`` see no user."""
        client = self.client(BotLogin(self.admin.name, self.admin.password, ()))
        token = api_token(client, self.api_url, "csrf")
        data = api_post(
            client,
            self.api_url,
            {
                "action": "revisiondelete",
                "type": "revision",
                "target": title,
                "ids": "|".join(str(revid) for revid in revids),
                "hide": "user",
                "token": token,
            },
        )
        items = data["revisiondelete"]["items"]
        if len(items) != len(revids) or any(item.get("status") != "Success" for item in items):
            raise DevWikiError(f"could not hide the user of {revids} on {title!r}: {data}")

    def delete(self, title: str, *, reason: str = "devwiki test") -> None:
        """Delete ``title`` as Admin (its revisions move to the archive: `badrevids`)."""
        client = self.client(BotLogin(self.admin.name, self.admin.password, ()))
        token = api_token(client, self.api_url, "csrf")
        data = api_post(
            client,
            self.api_url,
            {"action": "delete", "title": title, "reason": reason, "token": token},
        )
        if "delete" not in data:
            raise DevWikiError(f"could not delete {title!r}: {data}")

    def rollback_as_admin(self, title: str, user: str) -> int:
        """Roll back ``user``'s latest edits to ``title`` as Admin (a patroller beating the
        bot to it); the rollback's revid."""
        client = self.client(BotLogin(self.admin.name, self.admin.password, ()))
        token = api_token(client, self.api_url, "rollback")
        data = api_post(
            client,
            self.api_url,
            {"action": "rollback", "title": title, "user": user, "token": token},
        )
        if "rollback" not in data:
            raise DevWikiError(f"could not roll back {user!r} on {title!r}: {data}")
        return int(data["rollback"]["revid"])

    def revisions(self, title: str, limit: int = 50) -> list[Revision]:
        """The page's revisions, newest first, read with ``prop=revisions`` ([] if no page)."""
        data = api_get(
            self.client(),
            self.api_url,
            {
                "action": "query",
                "prop": "revisions",
                "titles": title,
                "rvprop": "ids|user|comment|content|timestamp|tags|flags",
                "rvslots": "main",
                "rvlimit": str(limit),
            },
        )
        page = data["query"]["pages"][0]
        return [
            Revision(
                revid=int(rev["revid"]),
                parentid=int(rev["parentid"]),
                user=str(rev.get("user", "")),
                comment=str(rev.get("comment", "")),
                content=str(rev["slots"]["main"].get("content", "")),
                timestamp=str(rev["timestamp"]),
                tags=tuple(rev.get("tags", ())),
                minor=bool(rev.get("minor", False)),
            )
            for rev in page.get("revisions", [])
        ]

    def recent_changes(self, title: str, limit: int = 50) -> list[RecentChange]:
        """Recent changes to ``title``, newest first, with the bot flag (for markbot checks)."""
        data = api_get(
            self.client(),
            self.api_url,
            {
                "action": "query",
                "list": "recentchanges",
                "rctitle": title,
                "rcprop": "ids|user|comment|flags",
                "rclimit": str(limit),
            },
        )
        return [
            RecentChange(
                revid=int(rc["revid"]),
                user=str(rc.get("user", "")),
                comment=str(rc.get("comment", "")),
                bot=bool(rc.get("bot", False)),
                type=str(rc["type"]),
            )
            for rc in data["query"]["recentchanges"]
        ]


# --------------------------------------------------------------------------------------------
# Minimal raw API calls (no bot code): login with a BotPassword, tokens, GET/POST
# --------------------------------------------------------------------------------------------


def _checked(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    if "error" in data:
        raise DevWikiError(f"API error {data['error'].get('code')}: {data['error'].get('info')}")
    return data


class _HiddenInputs(html.parser.HTMLParser):
    """Hidden inputs of ``<form id="editform">`` only: the skin's search form has its own."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._in_form = values.get("id") == "editform"
        elif self._in_form and tag == "input" and values.get("type") == "hidden":
            name = values.get("name")
            if name:
                self.fields[name] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _hidden_inputs(page: str) -> dict[str, str]:
    """The hidden fields of the web editor's form (token, start time, unicode check...)."""
    parser = _HiddenInputs()
    parser.feed(page)
    return parser.fields


def api_get(client: httpx.Client, api_url: str, params: dict[str, str]) -> dict[str, Any]:
    return _checked(client.get(api_url, params={**params, "format": "json", "formatversion": "2"}))


def api_post(client: httpx.Client, api_url: str, data: dict[str, str]) -> dict[str, Any]:
    return _checked(client.post(api_url, data={**data, "format": "json", "formatversion": "2"}))


def api_token(client: httpx.Client, api_url: str, kind: str) -> str:
    data = api_get(client, api_url, {"action": "query", "meta": "tokens", "type": kind})
    return str(data["query"]["tokens"][f"{kind}token"])


def api_login(client: httpx.Client, api_url: str, username: str, password: str) -> None:
    """``action=login`` with a BotPassword; the session cookie stays in ``client``."""
    token = api_token(client, api_url, "login")
    data = api_post(
        client,
        api_url,
        {"action": "login", "lgname": username, "lgpassword": password, "lgtoken": token},
    )
    if data["login"]["result"] != "Success":
        raise DevWikiError(f"login as {username} failed: {data['login']}")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

DEFAULT_ROOT = Path(".devwiki")
DEFAULT_PORT = 8080
NAMED_PORT = 8081  # a named wiki's default port: beside the default wiki's


def wiki_root(root: Path, name: str) -> Path:
    """Where the CLI keeps the wiki called ``name`` (its template and its copy): ``root`` for
    the default wiki, ``root-NAME`` beside it for another (``.devwiki-second``)."""
    if name == DEFAULT_NAME:
        return root
    if not root.name:  # "." or "/"
        root = root.resolve()
    return root.with_name(f"{root.name}-{name}")


def _name_arg(value: str) -> str:
    try:
        return wiki_variant(value).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _up_hint(name: str) -> str:
    return "scripts/dev-wiki.sh up" + ("" if name == DEFAULT_NAME else f" --name {name}")


@contextlib.contextmanager
def _timed(label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    print(f"# {label}: {time.monotonic() - started:.2f}s", file=sys.stderr)


def _print_env(wiki: RunningWiki) -> None:
    for key, value in wiki.env().items():
        print(f"{key}={value}")


def _print_wikis_hint(wiki: RunningWiki) -> None:
    if wiki.name != DEFAULT_NAME:
        # Not a line of its own: a second named wiki's `WIKIS=` line would replace this one.
        print(f"# and add {wiki.name} to WIKIS, e.g. WIKIS={wiki.name}", file=sys.stderr)


def _print_accounts(variant: WikiVariant) -> None:
    print("# accounts (main password / BotPassword):", file=sys.stderr)
    for account in variant.accounts:
        groups = ",".join(account.groups) or "-"
        print(f"#   {account.name:<9} {account.password}  groups={groups}", file=sys.stderr)
    for login in variant.bot_logins:
        grants = ",".join(login.grants) if login is not variant.norights_login else "(all)"
        print(f"#   {login.username:<19} {login.password}  grants={grants}", file=sys.stderr)


def _cmd_up(
    root: Path, name: str, port: int, fresh: bool, temp_accounts: bool | None = None
) -> int:
    wiki_dir = root / "wiki"
    if (wiki_dir / "devwiki.json").is_file():
        recorded = RunningWiki.at(wiki_dir, port).name
        if recorded != name:
            raise DevWikiError(f"{wiki_dir} holds the wiki {recorded!r}, not {name!r}")
    if (wiki_dir / "server.json").is_file():
        wiki = RunningWiki.attach(wiki_dir)
        if wiki.running and not fresh:
            print(f"# already running at {wiki.base_url}", file=sys.stderr)
            _print_env(wiki)
            _print_wikis_hint(wiki)
            return 0
        wiki.stop()
    if fresh:
        shutil.rmtree(wiki_dir, ignore_errors=True)
    with _timed("template"):
        template = ensure_template(root / "template", name)
    with _timed("start"):
        if wiki_dir.exists():
            wiki = RunningWiki.at(wiki_dir, port)
            wiki.start()
        else:
            wiki = template.start(wiki_dir.resolve(), port)
    if temp_accounts is not None:
        wiki.set_temp_accounts(temp_accounts)
        print(f"# temporary accounts: {'on' if temp_accounts else 'off'}", file=sys.stderr)
    wiki.detach()  # the server outlives this command; `down` stops it through server.json
    print(f"# {wiki.site_name} at {wiki.base_url}/index.php (data in {wiki_dir})", file=sys.stderr)
    _print_accounts(wiki.variant)
    print("# paste into .env:", file=sys.stderr)
    _print_env(wiki)
    _print_wikis_hint(wiki)
    return 0


def _attached(root: Path) -> RunningWiki | None:
    wiki_dir = root / "wiki"
    if not (wiki_dir / "server.json").is_file():
        return None
    wiki = RunningWiki.attach(wiki_dir)
    return wiki if wiki.running else None


def _cmd_down(root: Path) -> int:
    wiki_dir = root / "wiki"
    if not (wiki_dir / "server.json").is_file():
        print("# not running", file=sys.stderr)
        return 0
    RunningWiki.attach(wiki_dir).stop()
    print("# stopped", file=sys.stderr)
    return 0


def _cmd_status(root: Path, name: str, env_only: bool) -> int:
    wiki = _attached(root)
    if wiki is None:
        print(f"# not running ({_up_hint(name)})", file=sys.stderr)
        return 1
    if not env_only:
        print(
            f"# {wiki.site_name} running at {wiki.base_url} (pid {wiki.pid}, data in {wiki.path})",
            file=sys.stderr,
        )
        _print_accounts(wiki.variant)
    _print_env(wiki)
    if not env_only:
        _print_wikis_hint(wiki)
    return 0


def _cmd_vandalise(root: Path, name: str, title: str, edits: int) -> int:
    wiki = _attached(root)
    if wiki is None:
        print(f"# not running ({_up_hint(name)})", file=sys.stderr)
        return 1
    page = wiki.make_vandalised_page(title, f"This is the good version of {title}.", edits)
    print(
        f"# {title}: good revision {page.good_revid} by Editor, "
        f"vandal revisions {', '.join(map(str, page.vandal_revids))} by Vandal",
        file=sys.stderr,
    )
    wiki.close_clients()
    return 0


def _cmd_ratelimit(root: Path, name: str, value: str) -> int:
    wiki_dir = root / "wiki"
    if not (wiki_dir / "devwiki.json").is_file():
        print(f"# no wiki yet ({_up_hint(name)})", file=sys.stderr)
        return 1
    wiki = RunningWiki.at(wiki_dir, 0)
    limit = None if value == "off" else int(value)
    wiki.set_rollback_rate_limit(limit)
    print(f"# rollback rate limit: {'off' if limit is None else f'{limit} per 60 s'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--root",
        type=Path,
        default=DEFAULT_ROOT,
        help="the default wiki's directory (default: .devwiki); a named one lives in ROOT-NAME",
    )
    # Every command takes --name; it picks the wiki (and its directory) the command acts on.
    named = argparse.ArgumentParser(add_help=False)
    named.add_argument(
        "--name",
        type=_name_arg,
        default=DEFAULT_NAME,
        help="which wiki: 'default' (.devwiki) or another name, e.g. 'second' (.devwiki-second)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser(
        "up", parents=[named], help="start (or resume) the dev wiki and print .env lines"
    )
    up.add_argument(
        "--port", type=int, default=None, help=f"default: {DEFAULT_PORT}, {NAMED_PORT} if named"
    )
    up.add_argument("--fresh", action="store_true", help="discard the wiki's data first")
    up.add_argument(
        "--temp-accounts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="switch 1.39's temporary accounts on (logged-out web edits make '*Unregistered N') "
        "or off; default: unchanged",
    )
    sub.add_parser("down", parents=[named], help="stop the dev wiki (data stays)")
    sub.add_parser("status", parents=[named], help="running or not, accounts, .env lines")
    sub.add_parser("env", parents=[named], help="print the .env lines")
    vandalise = sub.add_parser(
        "vandalise", parents=[named], help="make a page with vandal edits to roll back"
    )
    vandalise.add_argument("title")
    vandalise.add_argument("--edits", type=int, default=2)
    ratelimit = sub.add_parser(
        "ratelimit", parents=[named], help="rollback rate limit per user: N per 60 s, or off"
    )
    ratelimit.add_argument("value", help="a number, or 'off'")
    args = parser.parse_args(argv)

    name: str = args.name
    root = wiki_root(args.root, name)
    reason = missing_requirements()
    if reason is not None and args.command in {"up", "vandalise"}:
        print(f"devwiki: {reason}", file=sys.stderr)
        return 2
    try:
        match args.command:
            case "up":
                port = args.port or (DEFAULT_PORT if name == DEFAULT_NAME else NAMED_PORT)
                return _cmd_up(root, name, port, args.fresh, args.temp_accounts)
            case "down":
                return _cmd_down(root)
            case "status":
                return _cmd_status(root, name, env_only=False)
            case "env":
                return _cmd_status(root, name, env_only=True)
            case "vandalise":
                return _cmd_vandalise(root, name, args.title, args.edits)
            case "ratelimit":
                return _cmd_ratelimit(root, name, args.value)
    except DevWikiError as exc:
        print(f"devwiki: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
