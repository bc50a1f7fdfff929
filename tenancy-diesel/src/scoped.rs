//! [`TenantTable`] tables, the [`ForTenantDsl`] extension and [`Scoped`] queries.

use diesel::dsl::{
    CountStar, Distinct, Eq, Filter, GroupBy, InnerJoin, LeftJoin, Limit, Offset, Order, Select,
};
use diesel::expression::Expression;
use diesel::query_builder::{DeleteStatement, IntoUpdateTarget, UpdateStatement};
use diesel::query_dsl::methods::{
    DistinctDsl, FilterDsl, GroupByDsl, LimitDsl, OffsetDsl, OrderDsl, SelectDsl,
};
use diesel::query_dsl::{JoinOnDsl, JoinWithImplicitOnClause};
// The join kinds are public only there (diesel's `table!` macro uses them).
use diesel::internal::table_macro::{Inner, LeftOuter};
use diesel::{Column, ExpressionMethods, QueryDsl, Table};
use tenancy_core::uuid::Uuid;
use tenancy_core::{Tenant, TenantId};

use crate::DieselTenantId;

pub use crate::grouped::Grouped;
pub use crate::join_condition::JoinCondition;

/// A table with a tenant column (a `uuid`). Only such tables can be scoped
/// with [`for_tenant`](ForTenantDsl::for_tenant); a table without one does
/// not compile there.
///
/// Declare it once per table with [`tenant_table!`](crate::tenant_table).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no tenant column",
    label = "this table is not declared tenant-scoped",
    note = "declare its tenant column once: `tenancy_diesel::tenant_table!(orders.tenant_id);`"
)]
pub trait TenantTable: Table {
    /// The type of the tenant ids in the tenant column: `Uuid` unless
    /// declared otherwise (`tenant_table!(invoices.account_id: i64)`).
    type Id: DieselTenantId;
    /// The tenant column.
    type TenantColumn: Column<Table = Self>
        + Default
        + ExpressionMethods
        + Expression<SqlType = <Self::Id as DieselTenantId>::SqlType>;
}

/// Declares tables' tenant columns: `tenant_table!(orders.tenant_id, lines.tenant_id);`
/// where `orders` is the module a `diesel::table!` created.
#[macro_export]
macro_rules! tenant_table {
    ($($table:ident . $column:ident $(: $id:ty)?),+ $(,)?) => {
        $(
            impl $crate::TenantTable for $table::table {
                type Id = $crate::tenancy_core::__id_type_or_uuid!($($id)?);
                type TenantColumn = $table::$column;
            }
        )+
    };
}

/// The condition `tenant_column = <tenant id>` for table `T`.
pub type TenantFilter<T> =
    Eq<<T as TenantTable>::TenantColumn, <<T as TenantTable>::Id as DieselTenantId>::Expr>;

/// Tenant table `U` with its [`JoinCondition`]: what
/// [`Scoped::inner_join`] and [`Scoped::left_join`] join.
pub type JoinOn<U, On> = diesel::dsl::On<U, JoinCondition<TenantFilter<U>, On>>;

/// `column = id` for `T`'s tenant column.
fn tenant_filter<T: TenantTable>(tenant: &TenantId<T::Id>) -> TenantFilter<T> {
    T::TenantColumn::default().eq(tenant.value().clone().expr())
}

fn join_condition<U: TenantTable, On>(
    tenant: &TenantId<U::Id>,
    on: On,
) -> JoinCondition<TenantFilter<U>, On> {
    JoinCondition {
        tenant: tenant_filter::<U>(tenant),
        on,
    }
}

/// `query` with the tenant condition of table `T`, marked as scoped.
fn scope<T, Q>(query: Q, tenant: &Tenant<T::Id>) -> Scoped<Filter<Q, TenantFilter<T>>, T::Id>
where
    T: TenantTable,
    Q: FilterDsl<TenantFilter<T>>,
{
    Scoped {
        query: query.filter(tenant_filter::<T>(tenant.id_ref())),
        tenant: tenant.id(),
        tenant_column: <T::TenantColumn as Column>::NAME,
    }
}

/// A query that names its tenant: the only kind a
/// [`TenantTx`](crate::TenantTx) runs.
///
/// Made by [`for_tenant`](ForTenantDsl::for_tenant); it can be narrowed
/// further with [`filter`](Scoped::filter) (joined with `AND` to the tenant
/// condition), [`order`](Scoped::order), [`limit`](Scoped::limit),
/// [`offset`](Scoped::offset), [`distinct`](Scoped::distinct),
/// [`group_by`](Scoped::group_by), [`count`](Scoped::count) and
/// [`select`](Scoped::select), but never widened: there is no `or_filter`.
#[derive(Debug, Clone)]
#[must_use = "a scoped query does nothing until a TenantTx runs it"]
pub struct Scoped<Q, K = Uuid> {
    pub(crate) query: Q,
    pub(crate) tenant: TenantId<K>,
    /// The table's tenant column, which writes must not set.
    pub(crate) tenant_column: &'static str,
}

/// Generates methods of [`Scoped`] that narrow the query with the diesel
/// DSL method of the same name, keeping the tenant condition.
macro_rules! narrowing {
    ($($(#[$doc:meta])* fn $name:ident $(<$g:ident>)? ($arg:ident: $ty:ty) -> $out:ty where [$($bound:tt)*];)*) => {
        $(
            $(#[$doc])*
            pub fn $name $(<$g>)? (self, $arg: $ty) -> Scoped<$out, K>
            where
                $($bound)*
            {
                self.map(|q| q.$name($arg))
            }
        )*
    };
}

impl<Q, K: DieselTenantId> Scoped<Q, K> {
    /// The tenant this query is scoped to.
    pub fn tenant(&self) -> TenantId<K> {
        self.tenant.clone()
    }

    /// The SQL and bound values, for logs and tests (diesel's
    /// `debug_query`).
    pub fn debug_sql(&self) -> String
    where
        Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    {
        diesel::debug_query::<diesel::pg::Pg, _>(&self.query).to_string()
    }

    /// `Ok` if this query is scoped to `tenant`, the mismatch otherwise.
    pub(crate) fn ensure_tenant(&self, tenant: &Tenant<K>) -> crate::Result<()> {
        if self.tenant == *tenant.id_ref() {
            Ok(())
        } else {
            Err(tenancy_core::TenantError::Mismatch {
                expected: self.tenant.to_string(),
                found: tenant.id().to_string(),
            }
            .into())
        }
    }

    fn map<R>(self, f: impl FnOnce(Q) -> R) -> Scoped<R, K> {
        Scoped {
            query: f(self.query),
            tenant: self.tenant,
            tenant_column: self.tenant_column,
        }
    }

    /// Adds a condition, in parentheses and joined with `AND` to the tenant
    /// condition: whatever it contains (an `OR` inside a `dsl::sql`
    /// fragment, say) cannot widen the query beyond the tenant.
    pub fn filter<P>(self, predicate: P) -> Scoped<Filter<Q, Grouped<P>>, K>
    where
        Q: FilterDsl<Grouped<P>>,
    {
        self.map(|q| q.filter(Grouped(predicate)))
    }

    narrowing! {
        /// Orders the rows.
        fn order<O>(order: O) -> Order<Q, O> where [Q: OrderDsl<O>, O: Expression];
        /// Limits the rows.
        fn limit(limit: i64) -> Limit<Q> where [Q: LimitDsl];
        /// Selects these columns (or aggregates: `count_star()`, `sum(..)`, ...).
        fn select<S>(selection: S) -> Select<Q, S> where [Q: SelectDsl<S>, S: Expression];
        /// Skips the first `offset` rows (for pages, with [`order`](Self::order)
        /// and [`limit`](Self::limit)).
        fn offset(offset: i64) -> Offset<Q> where [Q: OffsetDsl];
        /// Groups the tenant's rows (`GROUP BY`), for aggregates in
        /// [`select`](Self::select).
        fn group_by<G>(group: G) -> GroupBy<Q, G> where [Q: GroupByDsl<G>, G: Expression];
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(self) -> Scoped<Distinct<Q>, K>
    where
        Q: DistinctDsl,
    {
        self.map(DistinctDsl::distinct)
    }

    /// Joins tenant table `U` (`INNER JOIN`) on `on`, to which the SDK adds
    /// `U`'s own tenant condition: `ON u.tenant_id = <tenant> AND (on)`. So
    /// tables keyed by `(tenant_id, id)` join on their ids alone, and the
    /// join cannot reach another tenant's rows whatever `on` says.
    ///
    /// ```
    /// # use diesel::prelude::*;
    /// # use tenancy_diesel::ForTenantDsl;
    /// diesel::table! { orders (tenant_id, id) { tenant_id -> Uuid, id -> Int8, customer -> Text } }
    /// diesel::table! { order_lines (tenant_id, order_id, line_no) { tenant_id -> Uuid, order_id -> Int8, line_no -> Int4, qty -> Int4 } }
    /// diesel::allow_tables_to_appear_in_same_query!(orders, order_lines);
    /// tenancy_diesel::tenant_table!(orders.tenant_id, order_lines.tenant_id);
    ///
    /// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse().unwrap()).build();
    /// let lines = orders::table
    ///     .for_tenant(&acme)
    ///     .inner_join(order_lines::table, order_lines::order_id.eq(orders::id))
    ///     .select((orders::customer, order_lines::qty));
    /// // ... INNER JOIN "order_lines" ON (("order_lines"."tenant_id" = $1)) AND (("order_lines"."order_id" = "orders"."id"))
    /// //     WHERE ("orders"."tenant_id" = $2)
    /// let sql = lines.debug_sql();
    /// assert!(sql.contains(r#"ON (("order_lines"."tenant_id" = $1)) AND ("#), "{sql}");
    /// ```
    pub fn inner_join<U, On>(self, table: U, on: On) -> Scoped<InnerJoin<Q, JoinOn<U, On>>, K>
    where
        U: TenantTable<Id = K>,
        Q: QueryDsl + JoinWithImplicitOnClause<JoinOn<U, On>, Inner>,
    {
        let on = join_condition::<U, On>(&self.tenant, on);
        self.map(|q| q.inner_join(table.on(on)))
    }

    /// Joins tenant table `U` (`LEFT OUTER JOIN`) on `on`, to which the SDK
    /// adds `U`'s tenant condition, in the `ON` clause (on the nullable side
    /// of an outer join, a condition in `WHERE` would turn it into an inner
    /// join): rows of `U` that belong to another tenant are never joined.
    /// Select `U`'s columns with `.nullable()`, as with diesel's `left_join`.
    pub fn left_join<U, On>(self, table: U, on: On) -> Scoped<LeftJoin<Q, JoinOn<U, On>>, K>
    where
        U: TenantTable<Id = K>,
        Q: QueryDsl + JoinWithImplicitOnClause<JoinOn<U, On>, LeftOuter>,
    {
        let on = join_condition::<U, On>(&self.tenant, on);
        self.map(|q| q.left_join(table.on(on)))
    }

    /// Counts the tenant's rows that match (`SELECT COUNT(*)`).
    pub fn count(self) -> Scoped<Select<Q, CountStar>, K>
    where
        Q: SelectDsl<CountStar>,
    {
        self.map(|q| q.select(diesel::dsl::count_star()))
    }
}

/// Scopes a query on tenant table `T` to one tenant: `orders::table.for_tenant(&acme)`.
///
/// Implemented for tenant tables (`orders::table.for_tenant(..)`, then
/// narrowed with [`Scoped::filter`] and friends) and for `UPDATE` and
/// `DELETE` statements on them (`diesel::update(orders::table).set(..).for_tenant(..)`).
/// Each gets `WHERE tenant_column = <tenant id>` added.
pub trait ForTenantDsl<T: TenantTable>: Sized {
    /// The query with the tenant condition.
    type Output;

    /// Adds the tenant condition and marks the query as scoped.
    fn for_tenant(self, tenant: &Tenant<T::Id>) -> Scoped<Self::Output, T::Id>;
}

impl<T> ForTenantDsl<T> for T
where
    T: TenantTable + FilterDsl<TenantFilter<T>>,
{
    type Output = Filter<T, TenantFilter<T>>;

    fn for_tenant(self, tenant: &Tenant<T::Id>) -> Scoped<Self::Output, T::Id> {
        scope::<T, Self>(self, tenant)
    }
}

/// Only for an `UPDATE` without a `WHERE` clause yet: a condition added
/// before the tenant's would be joined to it with a bare `AND`. Scope first,
/// then [`filter`](Scoped::filter).
impl<T, V, Ret> ForTenantDsl<T> for UpdateStatement<T, <T as IntoUpdateTarget>::WhereClause, V, Ret>
where
    T: TenantTable + diesel::QuerySource + IntoUpdateTarget,
    Self: FilterDsl<TenantFilter<T>>,
{
    type Output = Filter<Self, TenantFilter<T>>;

    fn for_tenant(self, tenant: &Tenant<T::Id>) -> Scoped<Self::Output, T::Id> {
        scope::<T, Self>(self, tenant)
    }
}

/// Only for a `DELETE` without a `WHERE` clause yet (see the `UPDATE` impl).
impl<T, Ret> ForTenantDsl<T> for DeleteStatement<T, <T as IntoUpdateTarget>::WhereClause, Ret>
where
    T: TenantTable + diesel::QuerySource + IntoUpdateTarget,
    Self: FilterDsl<TenantFilter<T>>,
{
    type Output = Filter<Self, TenantFilter<T>>;

    fn for_tenant(self, tenant: &Tenant<T::Id>) -> Scoped<Self::Output, T::Id> {
        scope::<T, Self>(self, tenant)
    }
}
