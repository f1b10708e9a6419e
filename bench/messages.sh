#!/usr/bin/env bash
# OCPP message benchmark (bench/ocppmsg): Heartbeat and persisted
# MeterValues from BENCH_CHARGERS (64) Go OCPP-J clients against the real
# central system, against a bare OCPP-J server in the same run, on SQLite
# and PostgreSQL. No simulator: the server's own cost per message.
#   bash bench/messages.sh              # 20000 calls per figure
#   N=50000 BENCH_CHARGERS=256 bash bench/messages.sh
# PostgreSQL: JOULE_TEST_POSTGRES (default postgres://root@127.0.0.1:5432/test); skipped when unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkMessages' -benchtime "${N:-20000}x" -timeout 30m ./bench/ocppmsg
