#!/usr/bin/env bash
# Mutation testing of the security core with cargo-mutants: each area's code
# is mutated and tested against the suites that exercise it, the real
# PostgreSQL ones included. A mutant that survives is a change to the walls
# that no test notices: add a test that asserts a real outcome, or, when
# the mutant cannot change behaviour, add it to .cargo/mutants.toml with a
# one-line reason.
#
#   bash scripts/mutants.sh                  # every area (hours on 2 cores)
#   bash scripts/mutants.sh rls context      # some areas
#   bash scripts/mutants.sh --in-diff FILE   # only code a diff touches (CI)
#   bash scripts/mutants.sh --list           # the areas
#   bash scripts/mutants.sh rls -- --iterate # extra cargo-mutants options
#                                            # (--iterate: only what was
#                                            # missed last time)
#
# Results go to mutants.out/<area>/mutants.out/ (outcomes.json, caught.txt,
# missed.txt, timeout.txt, unviable.txt); the script exits non-zero when a
# mutant was missed (one that made the tests hang counts as caught). It mutates the working tree in place (and restores
# it), reusing target/ for speed: do not edit or build in this checkout
# while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0

# area | files (globs) | packages whose tests run | cargo test target arguments
# (doc tests are left out: they compile one by one, and most assert strings)
AREAS=(
    # The binding, the policies, identifiers, settings, the session reset.
    "rls|tenancy-core/src/rls/*.rs tenancy-core/src/reset.rs|tenancy-core tenancy-sqlx tenancy-testing|--lib --test=isolation --test=attacks --test=sealed --test=schema_per_tenant --test=session --test=long_names --test=admin"
    # The tenant context, its propagation, ids, slugs, keys, cache keys and
    # paths, the tenant cache.
    # (the tower layer and the audit use ids and the context too)
    "context|tenancy-core/src/context.rs tenancy-core/src/propagate.rs tenancy-core/src/any_tenant.rs tenancy-core/src/any_tenant_id.rs tenancy-core/src/id.rs tenancy-core/src/id_type.rs tenancy-core/src/slug.rs tenancy-core/src/cache.rs tenancy-core/src/keys.rs tenancy-core/src/tenant_key.rs tenancy-core/src/key_ring.rs tenancy-core/src/sealed_job.rs|tenancy-core tenancy-sqlx tenancy-tower|--all-features --lib --test=isolation --test=store --test=audit --test=strategies --test=axum_e2e --test=hostile_input"
    # Resolution and cross-checks of the tower layer.
    "tower|tenancy-tower/src/*.rs tenancy-tower/src/strategy/*.rs|tenancy-tower|--lib --tests"
    # Tenant transactions and pools: abort safety, raw SQL, sessions, routing, sealed pools, metered pools, the admin pool.
    "tx|tenancy-sqlx/src/tx.rs tenancy-sqlx/src/pool.rs tenancy-sqlx/src/begin.rs tenancy-sqlx/src/executor.rs tenancy-sqlx/src/session.rs tenancy-sqlx/src/observe.rs tenancy-sqlx/src/admin/*.rs tenancy-sqlx/src/routing/*.rs tenancy-sqlx/src/sealed/*.rs|tenancy-sqlx|--lib --test=abort_safety --test=attacks --test=isolation --test=session --test=routing --test=sealed --test=metered_pool --test=admin"
    # Moving tenants between tiers: the freeze, the verified copy, the switch.
    "moves|tenancy-sqlx/src/moves/*.rs|tenancy-sqlx|--lib --test=moves"
    # The scoped builders.
    "scoped|tenancy-sqlx/src/scoped/*.rs tenancy-sqlx/src/table.rs tenancy-sqlx/src/column.rs|tenancy-sqlx|--lib --test=type_wall --test=typed_builders --test=isolation"
    # The SQL scoping checker behind the macros, against its own case files
    # (the macros' compile tests only show how its verdicts are reported,
    # and rebuilding them for each mutant would take hours).
    "checker|tenancy-macros-core/src/check/*.rs tenancy-macros-core/src/check/**/*.rs tenancy-macros-core/src/rewrite.rs|tenancy-macros-core|--lib --tests"
    # The audit's rules.
    "audit|tenancy-sqlx/src/audit/*.rs|tenancy-sqlx|--lib --test=audit --test=sealed --test=admin"
    # Background jobs: resolving a job's tenant, refusing bad envelopes,
    # tier queues and fair enqueueing (against apalis-postgres).
    "jobs|tenancy-jobs/src/*.rs|tenancy-jobs|--all-features --lib --tests"
    # Custom domains: names, proofs (DNS TXT against a real DNS server, HTTP),
    # the domain store's life cycle, resolution of verified domains only.
    "domains|tenancy-domains/src/*.rs|tenancy-domains|--lib --tests"
    # The admin portal: authentication, CSRF, escaping, the operations
    # (over HTTP and in headless Chromium).
    "portal|tenancy-admin/src/*.rs|tenancy-admin|--lib --tests"
    # Metering: the ledger, tenant labels, quotas, usage rows and storage.
    "metering|tenancy-metering/src/*.rs tenancy-metering/src/postgres/*.rs|tenancy-metering|--all-features --lib --tests"
)

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
}

area_names() {
    for area in "${AREAS[@]}"; do
        echo "${area%%|*}"
    done
}

in_diff=""
selected=()
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; extra=("$@"); break ;;
        --in-diff) in_diff="$2"; shift 2 ;;
        --list) area_names; exit 0 ;;
        -h|--help) usage; exit 0 ;;
        *) selected+=("$1"); shift ;;
    esac
done

if ! cargo mutants --version 2>/dev/null | grep -q "$CARGO_MUTANTS_VERSION"; then
    cargo install cargo-mutants --locked --version "$CARGO_MUTANTS_VERSION"
fi
bash scripts/setup.sh

status=0
for area in "${AREAS[@]}"; do
    IFS='|' read -r name globs packages test_args <<<"$area"
    if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " =~ " $name " ]]; then
        continue
    fi
    files=()
    for glob in $globs; do
        files+=(--file "$glob")
    done
    diff_args=()
    if [ -n "$in_diff" ]; then
        diff_args=(--in-diff "$in_diff")
    fi
    cargo_test_args=()
    for package in $packages; do
        cargo_test_args+=(--test-package "$package")
    done
    for arg in $test_args; do
        cargo_test_args+=("--cargo-test-arg=$arg")
    done
    echo "==> mutants: $name"
    mkdir -p "mutants.out/$name"
    started=$(date +%s)
    # --in-place and --baseline=skip: the tree is tested as is (CI ran the
    # suites just before), every mutant builds incrementally in target/.
    # A mutant that makes a test hang (an endless loop) is stopped by the
    # timeout: the tests noticed it, so it counts as caught (exit code 3).
    code=0
    cargo mutants --in-place --baseline=skip --no-shuffle \
        "${files[@]}" "${diff_args[@]}" \
        "${cargo_test_args[@]}" --output "mutants.out/$name" "${extra[@]}" \
        --timeout 180 --build-timeout 600 || code=$?
    case "$code" in
        0|3) ;;
        *) status=1 ;;
    esac
    # cargo-mutants exits 3 when a mutant timed out even if another was
    # missed: a missed mutant fails the run whatever the exit code.
    if [ -s "mutants.out/$name/mutants.out/missed.txt" ]; then
        status=1
    fi
    echo "==> mutants: $name took $(( $(date +%s) - started )) s"
done
exit $status
