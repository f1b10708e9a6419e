#!/usr/bin/env bash
# OCPP benchmark: `joule sim` against `joule serve` (SQLite) and against the
# bench/echo baseline, in the same run. Prints connect rate, calls/s,
# p50/p99 latency and server RSS per connection, with joule/echo ratios.
#   bash bench/ocpp.sh                      # idle 10,000, latency 1,000, throughput 10,000 chargers
#   bash bench/ocpp.sh -scenarios latency   # any flag of bench/ocppbench (go run ./bench/ocppbench -h)
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 chargers are 10,000 sockets in the server and 10,000 in the simulator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
  echo "ocpp.sh: open files limited to $(ulimit -n); raise the hard limit (ulimit -Hn) for 10,000 chargers" >&2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/joule" ./cmd/joule
go build -o "$tmp/echo" ./bench/echo
go build -o "$tmp/ocppbench" ./bench/ocppbench
"$tmp/ocppbench" -joule "$tmp/joule" -echo "$tmp/echo" -dir "$tmp/run" "$@"
