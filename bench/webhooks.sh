#!/usr/bin/env bash
# Webhook benchmark (internal/webhook's BenchmarkDelivery): deliveries per
# second to a local receiver, events emitted one per transaction by
# BENCH_PRODUCERS (default 8) concurrent producers, against plain HTTP POSTs
# of the same body with the same concurrency, in the same run, on SQLite and
# PostgreSQL.
#   bash bench/webhooks.sh                      # 5000 deliveries per database
#   N=10000 BENCH_PRODUCERS=1 bash bench/webhooks.sh
# PostgreSQL: JOULE_TEST_POSTGRES (default postgres://root@127.0.0.1:5432/test); skipped when unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkDelivery' -benchtime "${N:-5000}x" -timeout 30m ./internal/webhook/
