#!/usr/bin/env bash
# Delivery benchmarks (issue: delivery, acceptance 4). Loopback only; bounded in count.
# Installs Postfix's smtp-sink when missing, starts it on 127.0.0.1:2525, and runs:
#   enqueue of 2,000,000 recipients, 100,000 e-mails over SMTP, 100,000 webhooks,
#   100,000 plain HTTP POSTs to the same sink (the webhook run's ceiling, no ledger),
#   1,000 signed delivery callbacks per second for 10 s while 300,000 webhooks go out,
# each under GNU time for the peak memory of the whole process. Every channel runs at its
# type's default `concurrency:`, as `loa run` does (LOA_BENCH_CONCURRENCY=N writes another).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v /usr/sbin/smtp-sink >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix time >/dev/null
fi
cargo build --release --example bench_delivery
/usr/sbin/smtp-sink -u nobody 127.0.0.1:2525 1000 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5
bench=target/release/examples/bench_delivery
for run in "enqueue 2000000" "smtp 100000 2525" "webhook 100000" "http 100000" "callbacks 300000 1000 10"; do
  echo "== $run"
  /usr/bin/time -f "   wall %e s, peak RSS %M kB" $bench $run
done
