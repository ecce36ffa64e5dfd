#!/usr/bin/env bash
# The README quick start, offline: a demo profile with example static keys, the
# starter policy, the embedded bbolt store, and a real AWS SDK client as the child.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
demo="${SENTINEL_DEMO_DIR:-$repo/.cache/quickstart}"
bin="${SENTINEL_BIN_DIR:-$repo/bin}"
mkdir -p "$demo" "$bin"
chmod 700 "$demo"

go build -o "$bin/sentinel" ./cmd/sentinel
go build -o "$bin/printcreds" ./examples/printcreds

# AWS's documented example keys: nothing here reaches AWS (--no-session).
cat > "$demo/config" <<'CFG'
[profile demo]
region = us-east-1
CFG
cat > "$demo/credentials" <<'CFG'
[demo]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
CFG
install -m 600 core/policy/testdata/starter.yaml "$demo/policy.yaml"
export AWS_CONFIG_FILE="$demo/config" AWS_SHARED_CREDENTIALS_FILE="$demo/credentials"

"$bin/sentinel" policy validate "$demo/policy.yaml"
"$bin/sentinel" exec --server --profile demo --no-session --identity-source os \
  --policy "$demo/policy.yaml" --log-file "$demo/decisions.jsonl" -- "$bin/printcreds"
echo "--- last decision-log line ($demo/decisions.jsonl):"
tail -n 1 "$demo/decisions.jsonl"
echo "--- sessions in the embedded store:"
"$bin/sentinel" server-sessions --status all --limit 3
