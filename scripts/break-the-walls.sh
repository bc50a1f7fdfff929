#!/usr/bin/env bash
# Breaks each wall on purpose, one at a time, in a scratch copy of the tree,
# and runs the tests that guard it: every one of them must then FAIL. Shows
# that the tests which claim a wall holds alone would notice it breaking.
#
#   bash scripts/break-the-walls.sh            # every mutant (about 10 minutes)
#   bash scripts/break-the-walls.sh type-wall  # only mutants whose name contains this
#
# Exit 0 when every mutant was caught. Not part of CI (it rebuilds the
# crates once per mutant); run it after changing a wall or its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
filter=${1:-}
bash scripts/setup.sh

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export CARGO_TARGET_DIR="$root/target/break-the-walls"
missed=0

# mutant NAME FILE FROM TO [FROM TO ...] -- CARGO TEST ARGS
mutant() {
    local name=$1 file=$2
    shift 2
    local edits=()
    while [ "$1" != "--" ]; do
        edits+=("$1" "$2")
        shift 2
    done
    shift
    case "$name" in *"$filter"*) ;; *) return 0 ;; esac
    rm -rf "$scratch/tree"
    mkdir "$scratch/tree"
    # The working tree as it is, uncommitted and new files included.
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$scratch/tree"
    local i
    for ((i = 0; i < ${#edits[@]}; i += 2)); do
        FROM=${edits[i]} TO=${edits[i + 1]} python3 - "$scratch/tree/$file" <<'EOF'
import os, sys
path = sys.argv[1]
text = open(path).read()
if os.environ["FROM"] not in text:
    sys.exit(f"{path}: the text to break is gone: {os.environ['FROM']!r}; update the mutant")
open(path, "w").write(text.replace(os.environ["FROM"], os.environ["TO"], 1))
EOF
    done
    printf '%-34s ' "$name"
    local log="$root/target/break-the-walls-$name.log"
    mkdir -p "$root/target"
    if (cd "$scratch/tree" && cargo test "$@" >"$log" 2>&1); then
        echo "MISSED: the tests passed with the wall broken (log: $log)"
        missed=$((missed + 1))
    elif grep -q '^test result: FAILED' "$log"; then
        echo "caught: $(grep -c '^test .* FAILED$' "$log") test(s) failed"
    else
        # A build error proves nothing: count it as missed.
        echo "MISSED: the tests did not run (log: $log)"
        missed=$((missed + 1))
    fi
}

# The type-level wall: the builders' tenant condition becomes always true.
mutant sqlx-type-wall tenancy-sqlx/src/scoped/parts.rs \
    'format!(" WHERE {} = {}", prepared.tenant_column, prepared.tenant)' \
    'format!(" WHERE ({} = {} OR TRUE)", prepared.tenant_column, prepared.tenant)' \
    -- -p tenancy-sqlx --all-features --test type_wall
mutant diesel-type-wall tenancy-diesel/src/scoped.rs \
    'pub type TenantFilter<T> = Eq<' 'pub type TenantFilter<T> = diesel::dsl::NotEq<' \
    'T::TenantColumn::default().eq(*tenant.id().as_uuid())' 'T::TenantColumn::default().ne(uuid::Uuid::nil())' \
    'tenant: U::TenantColumn::default().eq(*tenant.as_uuid()),' 'tenant: U::TenantColumn::default().ne(uuid::Uuid::nil()),' \
    -- -p tenancy-diesel --all-features --test type_wall

mutant torture-sqlx-type-wall tenancy-sqlx/src/scoped/parts.rs \
    'format!(" WHERE {} = {}", prepared.tenant_column, prepared.tenant)' \
    'format!(" WHERE ({} = {} OR TRUE)", prepared.tenant_column, prepared.tenant)' \
    -- -p tenancy-isolation --test torture sqlx_builders_alone
mutant torture-diesel-type-wall tenancy-diesel/src/scoped.rs \
    'pub type TenantFilter<T> = Eq<' 'pub type TenantFilter<T> = diesel::dsl::NotEq<' \
    'T::TenantColumn::default().eq(*tenant.id().as_uuid())' 'T::TenantColumn::default().ne(uuid::Uuid::nil())' \
    'tenant: U::TenantColumn::default().eq(*tenant.as_uuid()),' 'tenant: U::TenantColumn::default().ne(uuid::Uuid::nil()),' \
    -- -p tenancy-isolation --test torture diesel_async_builders_alone

# A condition added to a scoped diesel query, no longer in parentheses.
mutant diesel-grouped-filter tenancy-diesel/src/grouped.rs \
    'out.push_sql("(");' '' 'out.push_sql(")");' '' \
    -- -p tenancy-diesel --all-features --test type_wall

# Diesel writes may name the tenant column again.
mutant diesel-tenant-column-writes tenancy-diesel/src/tenant_column_writes.rs \
    'if writes_column(sql, column) {' 'if false {' \
    -- -p tenancy-diesel --all-features --test type_wall writes_naming

# The scoped SQL macros' checker: a condition under OR proves the tenant.
mutant macros-or-proves tenancy-macros-core/src/check/proof.rs \
    'op: BinaryOperator::And,' 'op: BinaryOperator::And | BinaryOperator::Or,' \
    -- -p tenancy-macros-core --test properties accepted_queries
# The checker lets an unscoped tenant table through.
mutant macros-accept-unscoped tenancy-macros-core/src/check/mod.rs \
    'Some(r) => Err(unscoped(r, &local.refs)),' 'Some(_) => Ok(()),' \
    -- -p tenancy-macros-core --test properties accepted_queries

# diesel's scoped joins lose the joined table's tenant condition.
mutant diesel-join-tenant tenancy-diesel/src/join_condition.rs \
    'self.tenant.walk_ast(out.reborrow())?;' 'out.push_sql("TRUE");' \
    -- -p tenancy-diesel --all-features --test joins joins_see_only

# The database wall: the generated policy lets every row through.
mutant rls-wall tenancy-core/src/rls/policy.rs \
    'format!("{} = {}", self.column.sql(), self.setting.policy_expr())' \
    'format!("({} = {}) OR TRUE", self.column.sql(), self.setting.policy_expr())' \
    -- -p tenancy-sqlx --all-features --test isolation rls_alone

# The reset after raw SQL, in each pool.
mutant sqlx-session-reset tenancy-sqlx/src/tx.rs \
    'self.raw = true;' '' \
    -- -p tenancy-sqlx --all-features --test attacks session_state
mutant diesel-session-reset tenancy-diesel/src/tx.rs \
    'self.raw = true;' '' \
    -- -p tenancy-diesel --all-features --test isolation session_state
mutant torture-session-reset tenancy-sqlx/src/tx.rs \
    'self.raw = true;' '' \
    -- -p tenancy-isolation --test torture sqlx_directly

# The tenant bound for the session instead of the transaction: behind a
# transaction pooler it reaches the next client.
mutant transaction-local-binding tenancy-core/src/rls/binding.rs \
    "\"; SET LOCAL {setting} = '{tenant}'\"" "\"; SET {setting} = '{tenant}'\"" \
    -- -p tenancy-isolation --test pgbouncer

# Temporary tables searched first again.
mutant temp-tables-last tenancy-core/src/rls/binding.rs \
    'sql.push_str(TEMP_LAST_SQL);' '' \
    -- -p tenancy-sqlx --all-features --test attacks temporary_table

# Transaction options may name the tenant setting again.
mutant options-reserved tenancy-core/src/rls/binding.rs \
    'if name.as_str() == self.setting.as_str() {' 'if false {' \
    -- -p tenancy-sqlx --all-features --test attacks options

if [ "$missed" -gt 0 ]; then
    echo "$missed mutant(s) missed"
    exit 1
fi
echo "every mutant was caught"
