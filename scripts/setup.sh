#!/usr/bin/env bash
# Create .venv and install the project into it (idempotent; pass --fresh to start over).
# torch==2.13.0 goes first: it is the CPU build, and the project's loose torch range is then already met.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--fresh" ]]; then rm -rf .venv; fi
if [[ ! -x .venv/bin/sdssm-sweep ]]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet torch==2.13.0
    .venv/bin/python -m pip install --quiet -e ".[test]" --config-settings editable_mode=compat
fi
# A .venv made before the test extra pulled the PostgreSQL driver or Selenium gets them (the store and the
# HTML report tests use them), and one made before the HTML report its markdown renderer.
if ! .venv/bin/python -c "import psycopg, selenium, markdown_it" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet -e ".[test]" --config-settings editable_mode=compat
fi
