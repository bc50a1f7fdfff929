//! Binding a tenant to a transaction: [`begin_sql`], [`TenantBinding`], and
//! the temporary-table walls.

use std::fmt::Write as _;

use super::{Ident, InvalidName, SettingName, TxOptions, check_ident};
use crate::{Tenant, TenantId, TenantIdType};

/// The statement that opens a tenant transaction in one message:
/// `BEGIN [options][; SET LOCAL option = ...]; SET LOCAL app.tenant_id = '<uuid>'`,
/// then [`TEMP_LAST_SQL`], which moves temporary tables to the end of the
/// `search_path` for the transaction.
///
/// Injection-safe by construction: the setting name is validated, the tenant
/// id is a UUID (hex and hyphens only) and extra values are quoted literals.
/// The options come before the tenant, so none can replace it.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_core::rls::{SettingName, TEMP_LAST_SQL, TxOptions, begin_sql};
///
/// let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
/// assert_eq!(
///     begin_sql(&SettingName::default(), &id, &TxOptions::default()),
///     format!("BEGIN; SET LOCAL app.tenant_id = '67e55044-10b1-426f-9247-bb680e5fe0c8'{TEMP_LAST_SQL}")
/// );
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
pub fn begin_sql<K: TenantIdType>(
    setting: &SettingName,
    tenant: &TenantId<K>,
    options: &TxOptions,
) -> String {
    begin_sql_in(setting, tenant, options, None, true)
}

/// The part of the `BEGIN` message that moves `pg_temp` to the end of the
/// `search_path` for the transaction (a tenant with its own schema gets it
/// in its `SET LOCAL search_path` instead).
///
/// PostgreSQL searches temporary tables *first* unless `pg_temp` is listed,
/// and grants `TEMPORARY` to `PUBLIC` by default: without this, one
/// `CREATE TEMP TABLE orders (...)` would shadow the real `orders` for every
/// later statement on the connection. Revoke `TEMPORARY` too
/// ([`revoke_temporary_sql`]); this is the second wall.
///
/// Any `pg_temp` the connection's own `search_path` lists is taken out
/// first: a `search_path` set at session level, such as
/// `pg_temp, public`, cannot put temporary tables back in front.
pub const TEMP_LAST_SQL: &str = "; SELECT set_config('search_path', concat_ws(', ', \
     nullif(btrim(regexp_replace(current_setting('search_path'), '(^|,)[[:space:]]*\"?pg_temp[^,]*', '', 'g'), ', '), ''), \
     'pg_temp'), true)";

/// `REVOKE TEMPORARY` on `database` from `PUBLIC` and from `app_role`: the
/// set-up step that keeps the application role from creating temporary
/// tables, which could shadow tenant tables (see [`TEMP_LAST_SQL`]).
/// Run it as the database owner or a superuser.
///
/// ```
/// use tenancy_core::rls::{Ident, revoke_temporary_sql};
///
/// let sql = revoke_temporary_sql(&Ident::new("pos")?, &Ident::new("pos_app")?);
/// assert_eq!(sql, "REVOKE TEMPORARY ON DATABASE \"pos\" FROM PUBLIC, \"pos_app\";");
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
pub fn revoke_temporary_sql(database: &Ident, app_role: &Ident) -> String {
    format!(
        "REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC, {};",
        database.sql(),
        app_role.sql()
    )
}

/// [`begin_sql`] that also sets `search_path` transaction-locally, to
/// `schemas` in order (a tenant's own schema, then shared ones).
fn begin_sql_in(
    setting: &SettingName,
    tenant: &dyn std::fmt::Display,
    options: &TxOptions,
    search_path: Option<(&crate::SchemaName, &[Ident], bool)>,
    temp_last: bool,
) -> String {
    let mut sql = String::from("BEGIN");
    if let Some(level) = options.isolation {
        sql.push_str(" ISOLATION LEVEL ");
        sql.push_str(level.sql());
    }
    if options.read_only {
        sql.push_str(" READ ONLY");
    }
    // The options first, the binding after them: nothing in the options can
    // replace what the binding sets. Writing into a String cannot fail.
    for (name, value) in &options.settings {
        let _ = write!(sql, "; SET LOCAL {} = {}", name.as_str(), value.sql());
    }
    let _ = write!(sql, "; SET LOCAL {setting} = '{tenant}'");
    if let Some((schema, shared, as_schema_role)) = search_path {
        let _ = write!(sql, "; SET LOCAL search_path = {}", schema.sql());
        for name in shared {
            let _ = write!(sql, ", {}", name.sql());
        }
        // Temporary tables are searched last, so none can shadow a tenant table.
        sql.push_str(", pg_temp");
        if as_schema_role {
            let _ = write!(sql, "; SET LOCAL ROLE {}", schema.sql());
        }
    } else if temp_last {
        sql.push_str(TEMP_LAST_SQL);
    }
    sql
}

/// How a tenant is bound to a transaction: the setting the policies read
/// and the options of every `BEGIN`. Shared by the pools of `tenancy-sqlx`
/// and `tenancy-diesel`.
///
/// ```
/// use tenancy_core::rls::{IsolationLevel, SettingName, TenantBinding, TxOptions};
///
/// let binding = TenantBinding::default()
///     .with_setting(SettingName::new("myapp.tenant")?)
///     .with_tx_options(TxOptions::default().isolation(IsolationLevel::RepeatableRead));
/// assert_eq!(binding.setting().as_str(), "myapp.tenant");
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantBinding {
    setting: SettingName,
    options: TxOptions,
    shared_schemas: Vec<Ident>,
    require_schema: bool,
    without_schema_roles: bool,
    /// Set by [`TenantBinding::dangerous_trust_temporary_revoked`].
    temporary_revoked: bool,
    /// Who the pool's connections log in as.
    login: Login,
}

/// Who a pool's connections log in as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Login {
    /// The shared application role (every tenant but sealed ones).
    #[default]
    SharedRole,
    /// One sealed tenant's own role ([`TenantBinding::sealed_login`]).
    SealedTenant,
}

impl TenantBinding {
    /// Uses another setting name; it must match the one in the policies.
    #[must_use]
    pub fn with_setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// Options for every transaction (isolation, read-only, settings such
    /// as `statement_timeout`). They are written before the binding's own
    /// statements, and an option that names the tenant setting fails every
    /// `BEGIN` with [`TenantError::ReservedSetting`](crate::TenantError::ReservedSetting).
    #[must_use]
    pub fn with_tx_options(mut self, options: TxOptions) -> Self {
        self.options = options;
        self
    }

    /// Schemas searched after a tenant's own schema, for tenants that have
    /// one (schema per tenant): shared tables, extensions. Empty by default,
    /// so an unqualified name resolves only inside the tenant's schema
    /// (and `pg_catalog`), never to another schema's table of that name.
    ///
    /// ```
    /// use tenancy_core::rls::TenantBinding;
    /// use tenancy_core::{Placement, SchemaName, Tenant, TenantId, TenantSettings};
    ///
    /// let id = TenantId::new_v4();
    /// let tenant = Tenant::builder(id, "acme".parse()?)
    ///     .settings(TenantSettings::default().with_placement(
    ///         Placement::shared().with_schema(SchemaName::for_tenant(&id)),
    ///     ))
    ///     .build();
    /// let sql = TenantBinding::default().with_shared_schemas(&["public"])?.begin_sql(&tenant)?;
    /// let schema = format!("\"tenant_{}\"", id.as_uuid().simple());
    /// assert!(sql.ends_with(&format!("SET LOCAL search_path = {schema}, \"public\", pg_temp; SET LOCAL ROLE {schema}")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_shared_schemas(mut self, schemas: &[&str]) -> Result<Self, InvalidName> {
        self.shared_schemas = schemas
            .iter()
            .map(|name| {
                check_ident("schema name", name)?;
                Ident::new(name)
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Fails closed with [`TenantError::NoSchema`](crate::TenantError::NoSchema)
    /// for a tenant without its own schema: for databases where every
    /// tenant lives in a schema and the shared tables must never be used.
    #[must_use]
    pub fn require_schema(mut self) -> Self {
        self.require_schema = true;
        self
    }

    /// An escape hatch, named so: for tenants with their own schema, does
    /// **not** switch to the role of the schema's name (`SET LOCAL ROLE`). Then only `search_path` keeps
    /// a tenant in its schema, and a query that names another tenant's
    /// schema reads it: use this only where schemas were made without
    /// per-tenant roles, and plan to add them.
    #[must_use]
    pub fn dangerous_without_schema_roles(mut self) -> Self {
        self.without_schema_roles = true;
        self
    }

    /// Leaves [`TEMP_LAST_SQL`] out of every `BEGIN` of tenants without
    /// their own schema: one statement less per transaction (about 10 to
    /// 20 µs of server time, 5% of a short transaction on a small machine).
    ///
    /// **Only where the application role cannot create temporary tables**:
    /// `TEMPORARY` revoked from it and from `PUBLIC`
    /// ([`revoke_temporary_sql`]), which `tenancy audit --app-role`
    /// checks (`app_role_temporary`). Otherwise a temporary table made by
    /// raw SQL outside the SDK, or left on a server connection behind a
    /// transaction pooler, shadows the tenant table of the same name.
    #[must_use]
    pub fn dangerous_trust_temporary_revoked(mut self) -> Self {
        self.temporary_revoked = true;
        self
    }

    /// The binding of a pool whose connections log in as one sealed
    /// tenant's own role: it binds only sealed tenants, and every other
    /// binding refuses them ([`TenantError::Sealed`](crate::TenantError::Sealed)).
    /// `tenancy-sqlx`'s `RoutedPool` sets it on the pools it opens with a
    /// sealed tenant's credentials; the database, not this flag, keeps the
    /// tenant's rows apart (a pool of the shared role marked so still sees
    /// no sealed tenant's rows).
    #[must_use]
    pub fn sealed_login(mut self) -> Self {
        self.login = Login::SealedTenant;
        self
    }

    /// The setting that carries the tenant.
    pub fn setting(&self) -> &SettingName {
        &self.setting
    }

    /// The `BEGIN` message for `tenant` (see [`begin_sql`]), with
    /// `SET LOCAL search_path` and `SET LOCAL ROLE` when the tenant has its
    /// own schema (see [`with_shared_schemas`](Self::with_shared_schemas)); fails
    /// closed for a suspended tenant, and opens a moving tenant's
    /// transaction `READ ONLY` ([`TenantStatus::Moving`](crate::TenantStatus::Moving)).
    pub fn begin_sql<K: TenantIdType>(
        &self,
        tenant: &Tenant<K>,
    ) -> Result<String, crate::TenantError> {
        self.begin_sql_with(tenant, &self.options)
    }

    /// [`begin_sql`](Self::begin_sql) with other transaction options.
    pub fn begin_sql_with<K: TenantIdType>(
        &self,
        tenant: &Tenant<K>,
        options: &TxOptions,
    ) -> Result<String, crate::TenantError> {
        // A moving tenant's writes are frozen: its transactions read only.
        let frozen;
        let options = if tenant.is_moving() {
            frozen = options.clone().read_only();
            &frozen
        } else {
            tenant.ensure_active()?;
            options
        };
        for (name, _) in &options.settings {
            if name.as_str() == self.setting.as_str() {
                return Err(crate::TenantError::ReservedSetting {
                    name: self.setting.as_str().to_owned(),
                });
            }
        }
        let sealed_login = self.login == Login::SealedTenant;
        if tenant.placement().is_sealed() != sealed_login {
            let id = tenant.id_ref().to_string();
            return Err(if sealed_login {
                crate::TenantError::NotSealed { id }
            } else {
                crate::TenantError::Sealed { id }
            });
        }
        let schema = tenant.placement().schema();
        if self.require_schema && schema.is_none() {
            return Err(crate::TenantError::NoSchema {
                id: tenant.id_ref().to_string(),
            });
        }
        let search_path = schema.map(|schema| {
            let shared = self.shared_schemas.as_slice();
            (schema, shared, !self.without_schema_roles)
        });
        Ok(begin_sql_in(
            &self.setting,
            tenant.id_ref(),
            options,
            search_path,
            !self.temporary_revoked,
        ))
    }
}
