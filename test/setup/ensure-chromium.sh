#!/usr/bin/env bash
# Before the suite: the browser tests drive Debian's Chromium (playwright cannot download a
# browser here). Installs it when it is missing and this is a Debian machine we may change.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "the browser tests need Chromium at /usr/bin/chromium: install Debian's chromium package (sudo apt-get install chromium)" >&2
exit 1
