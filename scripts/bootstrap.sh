#!/usr/bin/env bash
# Sets up what `make demo` and `make test` need on a fresh Debian machine (as root, or with
# the tools already installed). Usage: scripts/bootstrap.sh [--test]
#   always: python3 with venv, redis-server (the one on PATH, else Debian's package)
#           (the Sentinel tests run it as `redis-server --sentinel`: no redis-sentinel needed)
#   --test: also Node.js + npm (interop peers) and Chromium (browser tests)
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: need '$*' but not root; install it with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "bootstrap: need '$*' and there is no apt-get here; install it by hand" >&2
    exit 1
  fi
  if [ $apt_updated = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v python3 >/dev/null; then apt_install python3 python3-venv; fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3-venv; fi

if ! command -v redis-server >/dev/null && [ ! -x /usr/bin/redis-server ]; then
  apt_install redis-server
fi
if ! command -v redis-server >/dev/null && [ ! -x /usr/bin/redis-server ]; then
  echo "bootstrap: redis-server is not installed and could not be installed" >&2
  exit 1
fi

if [ $want_test = 1 ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium fonts-dejavu-core; fi
  # xgettext and msgfmt: the test that the shipped translation covers every string
  if ! command -v xgettext >/dev/null || ! command -v msgfmt >/dev/null; then apt_install gettext; fi
fi
