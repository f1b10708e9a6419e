#!/usr/bin/env bash
# Every benchmark of docs/performance.md, one after the other (about 25 minutes).
set -euo pipefail
cd "$(dirname "$0")"
echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo; grep MemTotal /proc/meminfo; go version; cat /proc/loadavg
echo "== pricing"; bash pricing.sh
echo "== webhooks"; bash webhooks.sh
echo "== sessions"; bash sessions.sh
echo "== messages"; bash messages.sh
echo "== ocpp"; bash ocpp.sh
echo "== load average at the end: $(cat /proc/loadavg)"
