#!/usr/bin/env bash
# Sets up everything `make bench` needs, idempotently (Debian; as root where something is
# missing). Bench-only: nothing here is a runtime dependency of queuecore.
#   redis-server, node + npm       Debian packages, only if missing
#   tests/peers/node_modules       Node bullmq 6.7.0 (npm ci), only if missing
#   bench/.venv                    driver + Python bullmq + RQ   (bench/requirements.txt)
#   bench/.venv-arq                arq (needs redis<6, bullmq needs >=6.2) (requirements-arq.txt)
#   bench/.venv-qc                 queuecore's runtime pins from ../requirements.txt; queuecore
#                                  itself comes from the work tree through PYTHONPATH
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$here"

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "bench/setup.sh: need '$*'; install it (apt-get install -y $*)" >&2
    exit 1
  fi
  if [ $apt_updated = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || apt_install redis-server
{ command -v node >/dev/null && command -v npm >/dev/null; } || apt_install nodejs npm
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

if [ ! -f "$root/tests/peers/node_modules/bullmq/package.json" ]; then
  (cd "$root/tests/peers" && npm ci --no-audit --no-fund --loglevel=error)
fi

# make_venv DIR REQUIREMENTS_FILE: (re)build DIR when the requirements changed.
make_venv() {
  local dir="$1" req="$2" stamp="$1/.bench-stamp"
  if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
    return
  fi
  echo "bench/setup.sh: building $(basename "$dir") from $(basename "$req")"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
}

make_venv "$here/.venv" "$here/requirements.txt"
make_venv "$here/.venv-arq" "$here/requirements-arq.txt"

qc_req="$(mktemp)"
trap 'rm -f "$qc_req"' EXIT
grep -E '^(redis|hiredis|orjson|typing_extensions|croniter|python-dateutil|tzdata)==' \
  "$root/requirements.txt" > "$qc_req"
make_venv "$here/.venv-qc" "$qc_req"
echo "bench/setup.sh: ready"
