#!/usr/bin/env bash
# Throwaway local MediaWiki for trying rollbot (Debian's mediawiki + php -S on 127.0.0.1).
#
#   scripts/dev-wiki.sh up [--port 8080] [--fresh]   start (or resume) .devwiki/wiki, print .env lines
#        [--temp-accounts]                           logged-out web edits make "*Unregistered N"
#   scripts/dev-wiki.sh env | status | down
#   scripts/dev-wiki.sh vandalise TITLE [--edits N]  a page with N Vandal edits to roll back
#   scripts/dev-wiki.sh ratelimit N|off              rollback rate limit per user (per 60 s)
#
# Every command takes --name NAME for another wiki beside the first, e.g. `up --name second`:
# .devwiki-second/, port 8081, its own site name and passwords, WIKI_SECOND_* lines (WIKIS=second).
#
# Needs: apt-get install --no-install-recommends mediawiki php8.2-cli php8.2-cgi php-sqlite3 \
#          php-intl php-mbstring php-xml micro-httpd     (micro-httpd, php8.2-cgi: no apache2)
# Details and the Python API used by tests/integration: scripts/devwiki.py
set -euo pipefail
cd "$(dirname "$0")/.."
exec uv run --quiet python scripts/devwiki.py "$@"
