//! [`DieselTenantId`]: tenant id types and their diesel SQL types.

use diesel::expression::{AsExpression, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::sql_types::{self, SingleValue, SqlType};
use tenancy_core::TenantIdType;
use tenancy_core::uuid::Uuid;

/// A [`TenantIdType`] with its diesel SQL type: `Uuid` is `Uuid`, `i64`
/// is `BigInt`, `i32` is `Integer`, `String` is `Text`. A
/// [`TenantTable`](crate::TenantTable) table's tenant column has that
/// SQL type, so a table keyed by bigint ids cannot be declared with a
/// `uuid` tenant column, and the tenant filter compares like with like.
pub trait DieselTenantId: TenantIdType {
    /// The diesel SQL type of tenant columns keyed by this type.
    type SqlType: SqlType + SingleValue;

    /// The id as a bound query parameter.
    type Expr: Expression<SqlType = Self::SqlType>
        + QueryFragment<Pg>
        + QueryId
        + ValidGrouping<()>
        + Clone
        + Send
        + 'static;

    /// Binds the id.
    fn expr(self) -> Self::Expr;
}

macro_rules! diesel_id {
    ($ty:ty => $sql:ty) => {
        impl DieselTenantId for $ty {
            type SqlType = $sql;
            type Expr = <$ty as AsExpression<$sql>>::Expression;

            fn expr(self) -> Self::Expr {
                AsExpression::<$sql>::as_expression(self)
            }
        }
    };
}

diesel_id!(Uuid => sql_types::Uuid);
diesel_id!(i64 => sql_types::BigInt);
diesel_id!(i32 => sql_types::Integer);
diesel_id!(String => sql_types::Text);
