#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing, so `npm test` works on a
# fresh machine with only Node and npm. Needs root (or passwordless sudo) and Debian's repositories.
# Usage: ensure-system-deps.sh [package-or-command ...]   (default: what the suite needs today)
set -euo pipefail

# command:package pairs the suite uses. Add a pair when a test starts needing a program. The
# command is a name looked up on PATH (and in the sbin directories), or an absolute path that must
# be an executable file (for programs that are not on PATH, such as Debian's PostgreSQL server).
wanted=("${@:-}")
if [ -z "${wanted[*]}" ]; then
  # haproxy: the load-balancer integration tests start a real one (packages/lb, apps/agent).
  # postgresql-15 / postgresql-client-15: the demo APPLICATION's database (tools/app-db) is a Debian
  # PostgreSQL 15, because the agent backs it up with Debian's pg_dump 15, which refuses to dump a
  # newer server (Rollgate's own database stays the embedded PostgreSQL 18 from npm). The client
  # package brings pg_dump, pg_restore, psql and createdb. Debian's postinst may create and start a
  # default cluster on port 5432: harmless, nothing of ours uses it (tools/app-db runs its own
  # cluster in its own directory on a free port).
  # chromium: the console's browser tests (apps/web/src/e2e) and the console bench drive Debian's
  # Chromium through playwright-core (never `npx playwright install`: nothing is downloaded).
  # supervisor: the agent's `supervisor` service manager is tested against a real supervisord,
  # started by the test itself as a non-daemon child with its own config (Debian's postinst may
  # also start the system's supervisord: harmless, the test never talks to it).
  # prometheus: promtool checks /metrics and the sample alert rules, and a real Prometheus scrapes
  # a coordinator once (tools/fleet-tests/src/coordinator/metrics.int.test.ts; the test starts its own on a free
  # loopback port; Debian's postinst may also start the system's one on :9090: harmless, unused).
  # python3: the notification test receives mail with Python 3.11's `smtpd` DebuggingServer
  # (tools/fleet-tests/src/coordinator/notifications.int.test.ts).
  wanted=(
    useradd:passwd
    python3:python3
    haproxy:haproxy
    /usr/lib/chromium/chromium:chromium
    /usr/lib/postgresql/15/bin/postgres:postgresql-15
    /usr/lib/postgresql/15/bin/pg_dump:postgresql-client-15
    /usr/lib/postgresql/15/bin/pg_restore:postgresql-client-15
    /usr/lib/postgresql/15/bin/psql:postgresql-client-15
    supervisord:supervisor
    supervisorctl:supervisor
    promtool:prometheus
    prometheus:prometheus
  )
fi

missing=()
for pair in "${wanted[@]}"; do
  cmd="${pair%%:*}"
  pkg="${pair##*:}"
  if [[ "$cmd" == /* ]]; then
    [ -f "$cmd" ] && [ -x "$cmd" ] && continue
  else
    # sbin programs (haproxy, useradd) are not on a non-root PATH: look there too.
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] && continue
  fi
  # One package may provide several of the programs checked: list it once.
  [[ " ${missing[*]:-} " == *" $pkg "* ]] || missing+=("$pkg")
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
