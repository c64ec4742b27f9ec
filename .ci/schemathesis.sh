#!/usr/bin/env bash
# Fuzzes a running tgate API against its own OpenAPI document: no answer may
# be a 5xx, and every answer must fit the schema documented for its status.
#
#   TGATE_FUZZ_URL=http://127.0.0.1:8080 TGATE_FUZZ_ADMIN_TOKEN=... \
#   TGATE_FUZZ_SERVICE_TOKEN=... TGATE_FUZZ_TELEGRAM_ADMIN=<id> .ci/schemathesis.sh
#
# The headers come from .ci/schemathesis.toml: the admin token for the admin
# API, the service token and an admin's Telegram id for the bot's endpoints.
#
# With no URL given it starts `api/examples/fuzz_server.rs` (temporary SQLite,
# RouterOS simulator) and stops it afterwards. TGATE_FUZZ_EXAMPLES bounds the
# examples per operation (default 25) so a run stays within a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${TGATE_FUZZ_EXAMPLES:-25}"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [ -z "${TGATE_FUZZ_URL:-}" ]; then
    cargo build --quiet -p tgate-api --example fuzz_server
    out="$(mktemp)"
    "${CARGO_TARGET_DIR:-target}/debug/examples/fuzz_server" >"$out" 2>/dev/null &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        grep -q '^ADMIN_TOKEN=' "$out" && break
        sleep 0.1
    done
    TGATE_FUZZ_URL="$(sed -n 's/^URL=//p' "$out")"
    TGATE_FUZZ_ADMIN_TOKEN="$(sed -n 's/^ADMIN_TOKEN=//p' "$out")"
    TGATE_FUZZ_SERVICE_TOKEN="$(sed -n 's/^SERVICE_TOKEN=//p' "$out")"
    TGATE_FUZZ_TELEGRAM_ADMIN="$(sed -n 's/^TELEGRAM_ADMIN=//p' "$out")"
    [ -n "$TGATE_FUZZ_URL" ] || { echo "fuzz_server did not start" >&2; exit 1; }
fi
: "${TGATE_FUZZ_ADMIN_TOKEN:?set TGATE_FUZZ_ADMIN_TOKEN to the admin token of the server}"
: "${TGATE_FUZZ_SERVICE_TOKEN:?set TGATE_FUZZ_SERVICE_TOKEN to the service token of the server}"
: "${TGATE_FUZZ_TELEGRAM_ADMIN:?set TGATE_FUZZ_TELEGRAM_ADMIN to a Telegram id in telegram.admins}"
export TGATE_FUZZ_ADMIN_TOKEN TGATE_FUZZ_SERVICE_TOKEN TGATE_FUZZ_TELEGRAM_ADMIN

if ! command -v schemathesis >/dev/null 2>&1; then
    python3 -m pip install --quiet schemathesis
fi

echo "== schemathesis against $TGATE_FUZZ_URL ($(schemathesis --version))"
schemathesis --config-file .ci/schemathesis.toml run "$TGATE_FUZZ_URL/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$EXAMPLES" \
    --request-timeout 10 \
    --generation-deterministic \
    --no-color
