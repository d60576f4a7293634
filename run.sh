#!/usr/bin/env bash
# Set up (first time only), run a sweep on the embedded defaults (local Ray, SQLite in results/), then report.
# Usage: ./run.sh [SWEEP_FILE]   (default: sweeps/table1.yaml; try sweeps/quickstart.yaml for a 10-minute run)
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
sweep="${1:-sweeps/table1.yaml}"
.venv/bin/sdssm-sweep run "$sweep"
.venv/bin/sdssm-sweep report --out results/report
