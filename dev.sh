#!/usr/bin/env bash
# Set-up and everyday commands for a fresh clone; needs only python3.11 and the package registries.
#   bash dev.sh serve   install into .venv and serve the bundled models on :8000
#   bash dev.sh test    install into .venv, lint, and run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$PWD/.cache/numba}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

venv() {
    local stamp=.venv/.installed-$1
    if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
    if [ ! -f "$stamp" ] || [ "$stamp" -ot "$1" ] || [ "$stamp" -ot requirements.txt ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -r "$1"
        touch "$stamp"
    fi
}

case "${1:-}" in
    serve)
        venv requirements.txt
        # A terminal reads text; the container and production keep the JSON default.
        export MMS_LOG_FORMAT=${MMS_LOG_FORMAT:-text}
        exec .venv/bin/gunicorn -c config/gunicorn.conf.py wsgi:app
        ;;
    test)
        venv requirements-dev.txt
        .venv/bin/ruff check .
        exec .venv/bin/python -m pytest "${@:2}"
        ;;
    *)
        echo "usage: bash dev.sh serve | test [pytest args]" >&2
        exit 2
        ;;
esac
