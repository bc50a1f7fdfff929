//! Typed columns: [`Col`] constants that [`tenant_table!`](crate::tenant_table)
//! declares, and the [`Column`] and [`ValueOf`] traits the builders take.
//!
//! With typed columns a typo, a column of another table, a value of the
//! wrong type, or the tenant column in a write is a compile error:
//!
//! ```
//! use tenancy_sqlx::Scoped;
//!
//! tenancy_sqlx::tenant_table!(pub Orders = "orders" {
//!     id: uuid::Uuid,
//!     item: String,
//!     quantity: i32,
//!     note: Option<String>,
//! });
//!
//! let open = Scoped::<Orders>::select()
//!     .column(Orders::item)
//!     .where_gt(Orders::quantity, 2)   // a `&str` here would not compile
//!     .where_eq(Orders::item, "Fries") // `&str` into a `String` column
//!     .where_null(Orders::note);
//! // `Orders::tenant_id` does not exist: the tenant column is the SDK's.
//! # let _ = open;
//! ```
//!
//! Column names as `&'static str` are still accepted, for columns chosen at
//! run time: they are checked when the query runs, not when it compiles.
//! Prefer the typed constants.

use std::fmt;
use std::marker::PhantomData;

/// The column `name` of table `T`, holding values of Rust type `V`.
/// Declared by [`tenant_table!`](crate::tenant_table) as `Table::column`.
pub struct Col<T, V> {
    name: &'static str,
    of: PhantomData<fn() -> (T, V)>,
}

impl<T, V> Col<T, V> {
    /// The column `name`; used by [`tenant_table!`](crate::tenant_table).
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            of: PhantomData,
        }
    }

    /// The column's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T, V> Clone for Col<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V> Copy for Col<T, V> {}

impl<T, V> fmt::Debug for Col<T, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Col({})", self.name)
    }
}

/// The value type of a column named by a string: any value, which the
/// database checks when the query runs.
pub trait Untyped {}

/// The Rust type of a column the application only orders by or tests for
/// `NULL` (a `timestamptz` without a time crate, say): no value is a value
/// of it, so `where_eq`, `value` and `set` do not compile with it, while
/// `order_by`, `where_null` and `column` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opaque {}

/// A column of table `T`, as the builders take it: a typed [`Col`] of `T`
/// or a name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a column of `{T}`",
    label = "a column of another table",
    note = "use one of `{T}`'s own columns, declared in its `tenant_table!`"
)]
pub trait Column<T>: Copy {
    /// The Rust type of its values ([`Untyped`] for a name).
    type Value: ?Sized;

    /// The column's name.
    fn name(self) -> &'static str;
}

impl<T, V> Column<T> for Col<T, V> {
    type Value = V;

    fn name(self) -> &'static str {
        self.name
    }
}

impl<T> Column<T> for &'static str {
    type Value = dyn Untyped;

    fn name(self) -> &'static str {
        self
    }
}

/// Values that a column of Rust type `C` takes: `C` itself, a reference to
/// it, `&str` for `String`, a value for an `Option` column.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` is not a value of a `{C}` column",
    label = "the column holds `{C}`"
)]
pub trait ValueOf<C: ?Sized> {}

impl<V> ValueOf<dyn Untyped> for V {}
impl<X> ValueOf<X> for X {}
impl<X> ValueOf<X> for &X {}
impl ValueOf<String> for &str {}
impl<X> ValueOf<Option<X>> for X {}
impl ValueOf<Option<String>> for &str {}
