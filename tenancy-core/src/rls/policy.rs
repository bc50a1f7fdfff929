//! [`TenantPolicy`]: migration SQL that puts a table under tenant
//! row-level security.

use super::{Ident, InvalidName, SettingName, check_ident, ident::quoted};
use crate::{IdSqlType, TenantId, TenantIdType};

/// Migration SQL that puts a table under tenant row-level security.
///
/// ```
/// use tenancy_core::rls::TenantPolicy;
///
/// let policy = TenantPolicy::new("orders")?;
/// let sql = policy.enable_sql();
/// assert!(sql.contains("ALTER TABLE \"orders\" FORCE ROW LEVEL SECURITY;"));
/// assert!(sql.contains("USING (\"tenant_id\" = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))"));
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
///
/// For tenant ids of another type, say so with
/// [`TenantPolicy::id_type`]; the column type and the casts follow:
///
/// ```
/// use tenancy_core::IdSqlType;
/// use tenancy_core::rls::TenantPolicy;
///
/// let policy = TenantPolicy::new("orders")?.with_tenant_column("account_id")?.with_id_type(IdSqlType::BigInt);
/// assert!(policy.column_sql().starts_with("\"account_id\" bigint NOT NULL"));
/// assert!(policy.condition_sql().ends_with("'')::bigint)"));
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
///
/// Use [`TenantPolicy::column_sql`] in `CREATE TABLE` and
/// [`TenantPolicy::enable_sql`] right after it; for a table that already has
/// rows and no tenant column, [`TenantPolicy::retrofit_sql`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPolicy {
    table: Ident,
    column: Ident,
    setting: SettingName,
    id_type: IdSqlType,
}

impl TenantPolicy {
    /// The policy name every generated policy uses.
    pub const POLICY_NAME: &'static str = "tenant_isolation";

    /// A policy for `table` (optionally `schema.table`), tenant column
    /// `tenant_id`, setting `app.tenant_id`.
    pub fn new(table: &str) -> Result<Self, InvalidName> {
        Ok(Self {
            table: Ident::new(table)?,
            column: Ident::new("tenant_id")?,
            setting: SettingName::default(),
            id_type: IdSqlType::Uuid,
        })
    }

    /// Uses tenant ids of type `id_type` (the tenant column's type): `uuid`
    /// by default. It must be the [`TenantIdType`] the application binds.
    #[must_use]
    pub fn with_id_type(mut self, id_type: IdSqlType) -> Self {
        self.id_type = id_type;
        self
    }

    /// Uses another tenant column.
    pub fn with_tenant_column(mut self, column: &str) -> Result<Self, InvalidName> {
        check_ident("tenant column", column)?;
        self.column = Ident::new(column)?;
        Ok(self)
    }

    /// Uses another setting name.
    #[must_use]
    pub fn with_setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// The table.
    pub fn table(&self) -> &Ident {
        &self.table
    }

    /// The tenant column.
    pub fn column(&self) -> &Ident {
        &self.column
    }

    /// The setting the policy reads.
    pub fn setting(&self) -> &SettingName {
        &self.setting
    }

    /// The type of the tenant ids.
    pub fn id_type(&self) -> IdSqlType {
        self.id_type
    }

    /// The column definition for `CREATE TABLE`:
    /// `"tenant_id" uuid NOT NULL DEFAULT nullif(current_setting(..), '')::uuid`
    /// (with the configured [`id_type`](Self::id_type)).
    ///
    /// With the default, inserts may leave the column out and get the
    /// transaction's tenant; without a tenant they fail the `NOT NULL` (or the
    /// policy's `WITH CHECK`).
    pub fn column_sql(&self) -> String {
        format!(
            "{} {} NOT NULL DEFAULT {}",
            self.column.sql(),
            self.id_type.as_str(),
            self.setting.tenant_expr(self.id_type)
        )
    }

    /// The condition the policy uses, also useful in views and functions.
    pub fn condition_sql(&self) -> String {
        format!(
            "{} = {}",
            self.column.sql(),
            self.setting.policy_expr(self.id_type)
        )
    }

    /// `{table}_{column}_idx`, kept apart from other tables' by
    /// [`bounded_name`](super::bounded_name) when it is too long.
    fn index_name(&self) -> String {
        quoted(&super::bounded_name(&format!(
            "{}_{}_idx",
            self.table.unqualified(),
            self.column.as_str()
        )))
    }

    /// Puts an existing table (that has the tenant column) under RLS:
    /// column default and `NOT NULL`, an index leading with the column,
    /// `ENABLE` and `FORCE ROW LEVEL SECURITY`, and a `FOR ALL` policy with
    /// `USING` and `WITH CHECK`. Idempotent: safe to run again.
    pub fn enable_sql(&self) -> String {
        self.enable_sql_forced(true)
    }

    /// [`enable_sql`](Self::enable_sql) without `FORCE ROW LEVEL SECURITY`:
    /// the first half of a switch without downtime. The policy binds every
    /// role but the table's owner, so an old deployment that connects as
    /// the owner keeps working while the new one, as the runtime role, is
    /// already isolated; run [`force_sql`](Self::force_sql) once the old
    /// deployment is gone.
    pub fn enable_unforced_sql(&self) -> String {
        self.enable_sql_forced(false)
    }

    /// `ALTER TABLE .. FORCE ROW LEVEL SECURITY`: the policy then binds the
    /// table's owner too.
    pub fn force_sql(&self) -> String {
        format!(
            "ALTER TABLE {} FORCE ROW LEVEL SECURITY;\n",
            self.table.sql()
        )
    }

    fn enable_sql_forced(&self, force: bool) -> String {
        let (table, column, condition) =
            (self.table.sql(), self.column.sql(), self.condition_sql());
        let name = Self::POLICY_NAME;
        format!(
            "ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default};\n\
             ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;\n\
             CREATE INDEX IF NOT EXISTS {index} ON {table} ({column});\n\
             ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n{force}\
             DROP POLICY IF EXISTS {name} ON {table};\n\
             CREATE POLICY {name} ON {table} AS PERMISSIVE FOR ALL\n    \
             USING ({condition})\n    \
             WITH CHECK ({condition});\n",
            default = self.setting.tenant_expr(self.id_type),
            index = self.index_name(),
            force = if force {
                self.force_sql()
            } else {
                String::new()
            },
        )
    }

    /// Takes a table back out of RLS (for down migrations).
    pub fn disable_sql(&self) -> String {
        let table = self.table.sql();
        format!(
            "DROP POLICY IF EXISTS {name} ON {table};\n\
             DROP POLICY IF EXISTS {sealed} ON {table};\n\
             DROP POLICY IF EXISTS {wall} ON {table};\n\
             ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;\n\
             ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;\n",
            name = Self::POLICY_NAME,
            sealed = super::sealed::SEALED_POLICY_NAME,
            wall = super::sealed::SEALED_WALL_POLICY_NAME,
        )
    }

    /// Retrofits a single-tenant table that has rows and no tenant column:
    /// adds the column (nullable), gives every existing row to `owner`, then
    /// enforces it with [`TenantPolicy::enable_sql`]. Run it in one
    /// transaction; on a big table, split the backfill into batches first.
    /// The column gets the type of `owner`'s id.
    pub fn retrofit_sql<K: TenantIdType>(&self, owner: &TenantId<K>) -> String {
        let policy = self.clone().with_id_type(K::SQL_TYPE);
        format!("{}{}", policy.backfill_sql(owner), policy.enable_sql())
    }

    /// The first half of [`retrofit_sql`](Self::retrofit_sql): adds the
    /// tenant column (nullable, of the type of `owner`'s id) and gives every
    /// row without a tenant to `owner`.
    pub fn backfill_sql<K: TenantIdType>(&self, owner: &TenantId<K>) -> String {
        let (table, column) = (self.table.sql(), self.column.sql());
        format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {ty};\n\
             UPDATE {table} SET {column} = '{owner}' WHERE {column} IS NULL;\n",
            ty = K::SQL_TYPE.as_str(),
        )
    }
}
