//! Type-state query builders for tenant tables.
//!
//! A builder starts [`Unbound`]: it can be refined (`where_eq`, `where_ne`,
//! `where_lt`/`le`/`gt`/`ge`, `where_in`, `where_null`, `where_not_null`,
//! `order_by`, `limit`, `offset`, `value`, `set`, ...) but cannot run: its
//! runners ask for [`BoundToTenant`], and the compiler says to bind it. Binding it to a tenant
//! with `for_tenant(&tenant)` (or `for_current_tenant()`) makes it [`Bound`],
//! and only a bound builder runs, on a [`TenantTx`](crate::TenantTx) of the
//! same tenant. Every statement names the tenant explicitly
//! (`tenant_id = $n`) on top of row-level security, and inserts take the
//! tenant column from the bound tenant, never from a value.
//!
//! ```
//! use tenancy_sqlx::{Scoped, TenantPool};
//!
//! tenancy_sqlx::tenant_table!(pub Orders = "orders" { id: uuid::Uuid, item: String, quantity: i32 });
//!
//! #[derive(sqlx::FromRow)]
//! struct Order { id: uuid::Uuid, item: String, quantity: i32 }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = tenancy_testing::test_database();
//! # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
//! # let pool = TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
//! # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
//! let mut tx = pool.begin(&acme).await?;
//! let id: uuid::Uuid = Scoped::<Orders>::insert()
//!     .value(Orders::item, "Burger") // a typo or a wrong type does not compile
//!     .value(Orders::quantity, 2)
//!     .return_column(Orders::id)
//!     .for_tenant(&acme)
//!     .returning(&mut tx)
//!     .await
//!     .map(|(id,): (uuid::Uuid,)| id)?;
//! let order: Option<Order> = Scoped::<Orders>::select()
//!     .where_eq(Orders::id, id)
//!     .for_tenant(&acme)
//!     .fetch_optional(&mut tx)
//!     .await?;
//! # assert_eq!(order.map(|o| (o.item, o.quantity)), Some(("Burger".to_owned(), 2)));
//! tx.commit().await?;
//! # Ok(()) }
//! ```

mod delete;
mod insert;
mod parts;
mod select;
mod update;

use std::marker::PhantomData;

pub use delete::Delete;
pub use insert::Insert;
pub use select::{Order, Select};
pub use update::Update;

use tenancy_core::Tenant;
use uuid::Uuid;

use crate::TenantTable;

/// Entry point: `Scoped::<Orders>::select()`, `insert()`, `update()`, `delete()`.
///
/// `T` must be a [`TenantTable`]; a table without a tenant column does not
/// compile here.
#[derive(Debug)]
pub struct Scoped<T: TenantTable>(PhantomData<T>);

impl<T: TenantTable> Scoped<T> {
    /// `SELECT * FROM table`, not yet bound to a tenant.
    pub fn select() -> Select<T, Unbound> {
        Select::new()
    }

    /// `INSERT INTO table`, not yet bound to a tenant.
    pub fn insert() -> Insert<T, Unbound> {
        Insert::new()
    }

    /// `UPDATE table`, not yet bound to a tenant.
    pub fn update() -> Update<T, Unbound> {
        Update::new()
    }

    /// `DELETE FROM table`, not yet bound to a tenant.
    pub fn delete() -> Delete<T, Unbound> {
        Delete::new()
    }
}

/// Type state: the builder has no tenant yet and cannot run.
#[derive(Debug, Clone, Copy)]
pub struct Unbound;

/// Type state: the builder is bound to a tenant and can run on that
/// tenant's transaction.
///
/// `K` is the type of the tenant's id: the table's
/// [`TenantTable::Id`].
#[derive(Debug, Clone)]
pub struct Bound<K = Uuid> {
    tenant: Tenant<K>,
}

/// The type state of a builder that can run: only [`Bound`]. The methods
/// that run a builder ask for it, so running an [`Unbound`] one fails to
/// compile with a message that says to bind it, not with a method that is
/// merely missing (or an unrelated one, such as `Iterator::count`).
#[diagnostic::on_unimplemented(
    message = "this query builder is not bound to a tenant, so it cannot run",
    label = "not bound to a tenant",
    note = "bind it first: `.for_tenant(&tenant)`, or `.for_current_tenant()?` inside a tenant scope"
)]
pub trait BoundToTenant<K>: sealed::Sealed {
    /// The binding.
    #[doc(hidden)]
    fn bound(&self) -> &Bound<K>;
}

impl<K> BoundToTenant<K> for Bound<K> {
    fn bound(&self) -> &Bound<K> {
        self
    }
}

mod sealed {
    /// Only the crate's own type states.
    pub trait Sealed {}
    impl<K> Sealed for super::Bound<K> {}
}

/// Generates `for_tenant` and `for_current_tenant` for a builder.
macro_rules! binding_methods {
    ($builder:ident) => {
        impl<T: $crate::TenantTable> $builder<T, $crate::scoped::Unbound> {
            /// Binds the builder to `tenant`: it can then run on that tenant's
            /// transaction, and its statement names the tenant explicitly.
            pub fn for_tenant(
                self,
                tenant: &tenancy_core::Tenant<T::Id>,
            ) -> $builder<T, $crate::scoped::Bound<T::Id>> {
                self.with_state($crate::scoped::Bound {
                    tenant: tenant.clone(),
                })
            }

            /// Binds the builder to the current tenant of `TenantContext`;
            /// fails with `TenantError::Missing` outside a tenant scope.
            pub fn for_current_tenant(
                self,
            ) -> $crate::Result<$builder<T, $crate::scoped::Bound<T::Id>>> {
                Ok(self.for_tenant(&tenancy_core::TenantContextOf::<T::Id>::current()?))
            }
        }
    };
}

/// Generates the conditions (`where_eq`, `where_lt`, `where_in`, ...) for a
/// builder that filters rows. Every condition is joined with `AND` to the
/// others and to the tenant condition, which always comes first.
macro_rules! filter_methods {
    ($builder:ident) => {
        impl<T: $crate::TenantTable, S> $builder<T, S> {
            $crate::scoped::compare_methods! {
                where_eq "=" "Adds the condition `column = value`.";
                where_ne "<>" "Adds the condition `column <> value`.";
                where_lt "<" "Adds the condition `column < value`.";
                where_le "<=" "Adds the condition `column <= value`.";
                where_gt ">" "Adds the condition `column > value`.";
                where_ge ">=" "Adds the condition `column >= value`.";
            }

            /// Adds the condition `column = ANY(values)`: one of `values`
            /// (none: no row).
            #[must_use]
            pub fn where_in<'t, C, V>(mut self, column: C, values: Vec<V>) -> Self
            where
                C: $crate::Column<T>,
                V: $crate::ValueOf<C::Value>,
                Vec<V>: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
            {
                let col = self.parts.column(column.name());
                let placeholder = self.parts.bind(column.name(), values);
                self.parts
                    .conditions
                    .push(format!("{col} = ANY({placeholder})"));
                self
            }

            /// Adds the condition `column IS NULL`.
            #[must_use]
            pub fn where_null<C: $crate::Column<T>>(mut self, column: C) -> Self {
                self.parts.null(column.name(), true);
                self
            }

            /// Adds the condition `column IS NOT NULL`.
            #[must_use]
            pub fn where_not_null<C: $crate::Column<T>>(mut self, column: C) -> Self {
                self.parts.null(column.name(), false);
                self
            }
        }
    };
}
/// Generates one comparison method per operator, for [`filter_methods`].
macro_rules! compare_methods {
    ($($name:ident $op:literal $doc:literal;)*) => {
        $(
            #[doc = $doc]
            #[must_use]
            pub fn $name<'t, C, V>(mut self, column: C, value: V) -> Self
            where
                C: $crate::Column<T>,
                V: $crate::ValueOf<C::Value> + sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
            {
                self.parts.compare(column.name(), $op, value);
                self
            }
        )*
    };
}
pub(crate) use {binding_methods, compare_methods, filter_methods};
