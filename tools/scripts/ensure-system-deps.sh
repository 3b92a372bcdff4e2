#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing, so `npm test` works on a
# fresh machine with only Node and npm. Needs root (or passwordless sudo) and Debian's repositories.
# Usage: ensure-system-deps.sh [package-or-command ...]   (default: what the suite needs today)
set -euo pipefail

# command:package pairs the suite uses. Add a pair when a test starts needing a program.
wanted=("${@:-}")
if [ -z "${wanted[*]}" ]; then
  # haproxy: the load-balancer integration tests start a real one (packages/lb, apps/agent).
  wanted=(useradd:passwd haproxy:haproxy)
fi

missing=()
for pair in "${wanted[@]}"; do
  cmd="${pair%%:*}"
  pkg="${pair##*:}"
  # sbin programs (haproxy, useradd) are not on a non-root PATH: look there too.
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages: all present"; exit 0; }

echo "system packages: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "cannot install ${missing[*]}: not root and no passwordless sudo. Install them with: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "cannot install ${missing[*]}: apt-get not found (this script supports Debian/Ubuntu). Install them by hand." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "system packages: installed ${missing[*]}"
