//! [`PgTenantId`]: tenant id types that sqlx can bind.

use sqlx::{Decode, Encode, Postgres, Type};
use tenancy_core::TenantIdType;

/// A [`TenantIdType`] that sqlx binds as a query parameter and reads from
/// a row: every id type tenancy-core has (`Uuid`, `i64`, `i32`,
/// `String`). The scoped builders and the SQL macros bind the tenant's id
/// with it, so the tenant column is compared with a value of its own type,
/// never with a cast text.
pub trait PgTenantId:
    TenantIdType + for<'q> Encode<'q, Postgres> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<K> PgTenantId for K where
    K: TenantIdType + for<'q> Encode<'q, Postgres> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
