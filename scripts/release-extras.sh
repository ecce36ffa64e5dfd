#!/bin/sh
# Writes the man page and the shell completion scripts that the release
# archives carry, from the sentinel binary given: release-extras.sh BIN DIR.
# HOME is "~" so the page's defaults read ~/.local/share/..., as in
# docs/man/sentinel.1 (TestManPage renders it the same way).
set -eu
bin=$1
out=$2
mkdir -p "$out/man" "$out/completions"
env -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u XDG_STATE_HOME -u SENTINEL_STORE -u SENTINEL_POLICY \
  -u SENTINEL_LOG_FILE -u SENTINEL_IDENTITY_SOURCE HOME='~' "$bin" man > "$out/man/sentinel.1"
"$bin" completion bash > "$out/completions/sentinel.bash"
"$bin" completion zsh > "$out/completions/_sentinel"
"$bin" completion fish > "$out/completions/sentinel.fish"
