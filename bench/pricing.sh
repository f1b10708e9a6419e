#!/usr/bin/env bash
# Pricing benchmark: ns to price a 24 h session of 1440 meter samples with
# the tariff engine, against a baseline that only multiplies and sums the
# same samples.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test -run '^$' -bench . -benchmem ./bench/pricing)
echo "$out"
echo "$out" | awk '/^BenchmarkPrice24h/ {p=$3} /^BenchmarkBaseline/ {b=$3}
  END { if (p && b) printf "pricing: %.0f ns per 24 h session priced (%.1f sessions/ms per core); baseline %.0f ns; ratio %.1fx\n", p, 1e6/p, b, p/b }'
