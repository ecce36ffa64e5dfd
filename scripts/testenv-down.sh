#!/usr/bin/env bash
# Undoes scripts/testenv-up.sh: removes test containers, stops only the podman
# service that script started. Safe to run when nothing is up (e.g. from a trap).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$REPO/.cache/testenv/state"
SOCK="$STATE/podman.sock"
[ -f "$STATE/containers.conf" ] && export CONTAINERS_CONF="$STATE/containers.conf"

# Ryuk (the reaper) is off, so a crashed test binary's containers are removed here.
if command -v podman >/dev/null 2>&1; then
  mapfile -t ids < <(podman ps -aq --filter label=org.testcontainers=true)
  if ((${#ids[@]})); then
    podman rm -f -t 2 "${ids[@]}" >/dev/null
    echo "testenv-down: removed ${#ids[@]} test container(s)"
  fi
fi

# The pid file names our service; check its command line so a reused pid is never killed.
if [ -f "$STATE/podman.pid" ]; then
  pid="$(cat "$STATE/podman.pid")"
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "system service --time=0 unix://$SOCK"; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "testenv-down: stopped podman service (pid $pid)"
  fi
  rm -f "$STATE/podman.pid" "$SOCK"
fi
