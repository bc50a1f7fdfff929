#!/usr/bin/env bash
# Instructions the middleware adds per request, counted with callgrind: a
# figure that does not drift with the machine as times do (the same build
# has measured twice the time on another machine of the same class).
# Each case of the middleware bench (axum Router, X-Tenant header, cached
# store hit) serves 10,000 requests alone under callgrind, which counts only
# inside the function that serves them.
#
#   bash scripts/instructions.sh     # needs valgrind (apt-get install -y valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1; then
    echo "scripts/instructions.sh needs valgrind (Debian: apt-get install -y valgrind)" >&2
    exit 1
fi
bin=$(cargo bench -p tenancy-bench --bench middleware --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "middleware" and m.get("executable"):
        print(m["executable"])')
if [ -z "$bin" ]; then
    echo "could not build the middleware bench" >&2
    exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {
    TENANCY_BENCH_COUNT=$1 valgrind --tool=callgrind --callgrind-out-file="$out/$1" \
        --toggle-collect='*counted_requests*' "$bin" --bench >"$out/$1.log" 2>&1 \
        || { cat "$out/$1.log" >&2; exit 1; }
    # One "Collected" line per process valgrind followed; the bench's own
    # is the one that counted.
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/$1.log" | awk '{ n += $1 } END { printf "%d\n", n / 10000 }'
}
noop=$(count axum_noop_layer)
header=$(count axum_header)
header_noop=$(count axum_header_noop_layer)
metered=$(count axum_header_metered)
echo "instructions per request (axum Router, cached store hit):"
echo "  a pass-through layer:            $noop"
echo "  TenantLayer:                     $header (+$((header - noop)) over the pass-through layer)"
echo "  TenantLayer and a pass-through:  $header_noop"
echo "  TenantLayer and MeterLayer:      $metered (+$((metered - header_noop)) over the pass-through layer there)"
