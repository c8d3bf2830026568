#!/usr/bin/env bash
# Set-up and everyday commands for a fresh clone; needs only python3.11 and the package registries.
#   bash dev.sh serve   install into .venv and serve the bundled models on :8000
#   bash dev.sh test    install the Debian packages the tests start (once, with apt-get), install
#                       into .venv, lint, and run the whole test suite (CI runs exactly this)
#   bash dev.sh test -m "not slow"   the fast loop: the in-process unit tests only
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$PWD/.cache/numba}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Programs the tests start, each from the Debian package of the same name: memcached (a rate limit
# shared by two workers), chromium (the playground in a browser), nginx (the balancer in front of
# two replicas), espeak-ng (the voices of the digits' training set).
TEST_PACKAGES=(memcached chromium nginx espeak-ng)

venv() {
    local stamp=.venv/.installed-$1
    if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
    if [ ! -f "$stamp" ] || [ "$stamp" -ot "$1" ] || [ "$stamp" -ot requirements.txt ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -r "$1"
        # requirements-dev.txt includes requirements.txt: serve need not install again.
        touch "$stamp" .venv/.installed-requirements.txt
    fi
}

# The missing TEST_PACKAGES, installed with apt-get as root or with sudo; where neither can be,
# a stop before any test runs, with the command to run: no test fails for want of a program.
test_packages() {
    local missing=() sudo=() program
    for program in "${TEST_PACKAGES[@]}"; do
        command -v "$program" >/dev/null || missing+=("$program")
    done
    if [ ${#missing[@]} -eq 0 ]; then return; fi
    if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
    local cannot=
    if ! command -v apt-get >/dev/null; then cannot="no apt-get"
    elif [ ${#sudo[@]} = 1 ] && ! command -v sudo >/dev/null; then cannot="not root, no sudo"
    fi
    if [ -n "$cannot" ]; then
        echo "dev.sh test: the tests start ${missing[*]}, not installed here ($cannot); as" \
            "root run: apt-get install ${missing[*]}; then bash dev.sh test again" >&2
        exit 1
    fi
    echo "dev.sh test: installing ${missing[*]} with apt-get, once: programs the tests start"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

case "${1:-}" in
    serve)
        venv requirements.txt
        # A terminal reads text; the container and production keep the JSON default.
        export MMS_LOG_FORMAT=${MMS_LOG_FORMAT:-text}
        exec .venv/bin/gunicorn -c config/gunicorn.conf.py wsgi:app
        ;;
    test)
        export PATH=$PATH:/usr/sbin  # nginx's folder, not on every user's PATH
        test_packages
        venv requirements-dev.txt
        .venv/bin/ruff check .
        .venv/bin/ruff format --check .
        exec .venv/bin/python -m pytest "${@:2}"
        ;;
    *)
        echo "usage: bash dev.sh serve | test [pytest args]" >&2
        exit 2
        ;;
esac
