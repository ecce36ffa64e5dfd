#!/usr/bin/env bash
# The whole suite against real servers: Redis and DynamoDB Local in podman
# containers driven by testcontainers-go, bbolt on real files. Run provision.sh first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# Torn down even when bring-up fails half way.
trap 'bash scripts/testenv-down.sh' EXIT
. scripts/testenv-up.sh
# gotestsum (pinned in tools/go.mod) prints each package, every skipped test by
# name, and a closing "DONE N tests, M skipped" line. The end-to-end fault,
# fleet and corruption tests (tests/...) run after the rest, one package at a
# time: each starts its own DynamoDB Local, and on 2 cores two of them at
# once make the timing bounds those tests check meaningless.
status=0
go tool -modfile=tools/go.mod gotestsum --format pkgname-and-test-fails -- -race -count=1 -timeout 20m $(go list ./... | grep -v '/tests/') "$@" || status=$?
go tool -modfile=tools/go.mod gotestsum --format pkgname-and-test-fails -- -race -count=1 -timeout 20m -p 1 ./tests/... "$@" || status=$?
exit "$status"
