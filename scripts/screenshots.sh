#!/usr/bin/env bash
# Screenshots of the staff dashboard (issue 4) into docs/screenshots/.
#
# Runs `loa run --outbox` on the example workspace (campaigns/, templates/) in a
# temporary folder, with a throw-away LOA_ADMIN_TOKEN and a long grace period so that
# the example's past occurrences are sent to the outbox instead of being recorded as
# missed; logs in with curl, saves each page as served (its CSS is inline, it has no
# script or external resource) and renders it with Debian's headless chromium.
# Loopback only; installs chromium when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --quiet --bin loa
loa="${CARGO_TARGET_DIR:-target}/debug/loa"
work=$(mktemp -d)
port=${LOA_SCREENSHOT_PORT:-18089}
base="http://127.0.0.1:$port"
token="screenshots-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
LOA_ADMIN_TOKEN="$token" "$loa" run --outbox "$work/outbox" \
  --database-url "sqlite://$work/loa.db" --listen "127.0.0.1:$port" \
  --grace-minutes 1000000 >"$work/run.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
sleep 3 # let the dispatcher send the past occurrences to the outbox
curl -fsS -c "$work/cookies" -o /dev/null --data-urlencode "token=$token" "$base/login"
mkdir -p docs/screenshots
shoot() { # name path [width height]
  curl -fsS -b "$work/cookies" -o "$work/$1.html" "$base$2"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="${3:-1280},${4:-900}" --screenshot="docs/screenshots/$1.png" \
    "file://$work/$1.html" >/dev/null 2>&1
  echo "docs/screenshots/$1.png  ($2)"
}
shoot dashboard "/"
shoot campaign "/campaigns/bhyt-hssv-2026-2027" 1280 2800
shoot campaign-en "/campaigns/bhyt-hssv-2026-2027?lang=en" 1280 2800
shoot campaign-phone "/campaigns/bhyt-hssv-2026-2027" 390 1600
# The pause button: the flash message, the operator-pause badge, the actions log.
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$work/dashboard.html" | head -1)
curl -fsS -b "$work/cookies" -o /dev/null --data-urlencode "csrf=$csrf" \
  "$base/campaigns/bhyt-hssv-2026-2027/pause"
shoot campaign-paused "/campaigns/bhyt-hssv-2026-2027?done=paused" 1280 900
