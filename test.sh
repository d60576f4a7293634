#!/usr/bin/env bash
# Set up (first time only) and run the test suite. Extra arguments go to pytest, e.g. ./test.sh -m slow
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
