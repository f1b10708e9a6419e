#!/usr/bin/env bash
# Session benchmark: complete lifecycles per second end to end (API start ->
# meter values -> stop -> priced -> paid) on SQLite and PostgreSQL, against
# the same number of plain inserts in the same database and process.
#   bash bench/sessions.sh            # 3000 lifecycles per database on 600 chargers
#   N=6000 BENCH_CHARGERS=800 bash bench/sessions.sh
# PostgreSQL: JOULE_TEST_POSTGRES (default postgres://root@127.0.0.1:5432/test); skipped when unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
go test -run '^$' -bench 'BenchmarkLifecycles' -benchtime "${N:-3000}x" -timeout 30m ./bench/sessions
