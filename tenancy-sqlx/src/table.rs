//! [`TenantTable`]: tables that belong to tenants.

/// A table with a tenant column. Only such tables can be queried through
/// [`Scoped`](crate::Scoped): a table without one does not compile there.
///
/// Declare it once per table with [`tenant_table!`](crate::tenant_table),
/// which checks the names at compile time:
///
/// ```
/// tenancy_sqlx::tenant_table!(pub Orders = "orders");
/// tenancy_sqlx::tenant_table!(pub Invoices = "billing.invoices", tenant_column = "org_id");
///
/// use tenancy_sqlx::TenantTable;
/// assert_eq!(Orders::TENANT_COLUMN, "tenant_id");
/// assert_eq!(Invoices::TABLE, "billing.invoices");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tenant table",
    label = "this type has no tenant column",
    note = "only tables with a tenant column can be scoped; declare one with \
            `tenancy_sqlx::tenant_table!(pub {Self} = \"table_name\");`"
)]
pub trait TenantTable {
    /// The type of the tenant ids in this table's tenant column: `Uuid`
    /// (`uuid`) unless declared otherwise (`id = i64` in
    /// [`tenant_table!`](crate::tenant_table)). A builder of this table
    /// binds a tenant of this id type and runs on a transaction of it.
    type Id: crate::PgTenantId;
    /// The table name, optionally schema-qualified (`schema.table`).
    const TABLE: &'static str;
    /// The tenant column.
    const TENANT_COLUMN: &'static str;
}

/// Declares a [`TenantTable`]: a unit struct and its impl.
///
/// `tenant_table!(pub Orders = "orders")` uses the tenant column `tenant_id`
/// of type `uuid`; add `, tenant_column = "account_id"` for another column
/// and `, id = i64` for another id type (`i64`, `i32`, `String`; see
/// [`TenantIdType`](tenancy_core::TenantIdType)). Names must be lowercase
/// identifiers (`a-z`, `0-9`, `_`); anything else is a compile error.
///
/// List the columns with their Rust types to get typed [`Col`](crate::Col)
/// constants (`Orders::item`), which the builders check at compile time
/// (see [`column`](crate::column)). Leave the tenant column out: the SDK
/// writes it, so no code names it.
///
/// ```
/// tenancy_sqlx::tenant_table!(pub Orders = "orders" { id: uuid::Uuid, item: String });
/// assert_eq!(Orders::item.name(), "item");
///
/// // An existing schema keyed by `account_id bigint`:
/// tenancy_sqlx::tenant_table!(pub Invoices = "invoices", tenant_column = "account_id", id = i64 { id: i64, total: i64 });
/// assert_eq!(<Invoices as tenancy_sqlx::TenantTable>::TENANT_COLUMN, "account_id");
/// ```
///
/// ```compile_fail
/// // The tenant column is not a typed column.
/// tenancy_sqlx::tenant_table!(pub Orders = "orders" { tenant_id: uuid::Uuid, item: String });
/// ```
#[macro_export]
macro_rules! tenant_table {
    (
        $(#[$meta:meta])* $vis:vis $name:ident = $table:literal
        $(, tenant_column = $column:literal)?
        $(, id = $id:ty)?
        $({ $($col:ident : $ty:ty),* $(,)? })?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $name;

        impl $crate::TenantTable for $name {
            type Id = $crate::tenancy_core::__id_type_or_uuid!($($id)?);
            const TABLE: &'static str = {
                assert!($crate::__private::is_sql_name($table, true), "invalid table name");
                $table
            };
            const TENANT_COLUMN: &'static str = {
                let column = $crate::__tenant_table_column!($($column)?);
                assert!($crate::__private::is_sql_name(column, false), "invalid tenant column name");
                column
            };
        }

        $(
            #[allow(non_upper_case_globals)]
            impl $name {
                $(
                    #[doc = concat!("The column `", stringify!($col), "` (`", stringify!($ty), "`).")]
                    $vis const $col: $crate::Col<$name, $ty> = $crate::Col::new(stringify!($col));
                )*
            }

            $(
                const _: () = assert!(
                    $crate::__private::is_sql_name(stringify!($col), false),
                    concat!("`", stringify!($col), "` is not a lowercase SQL column name")
                );
                const _: () = assert!(
                    !$crate::__private::same_name(
                        stringify!($col),
                        <$name as $crate::TenantTable>::TENANT_COLUMN
                    ),
                    concat!("`", stringify!($col), "` is the tenant column: the SDK writes it, leave it out of the columns")
                );
            )*
        )?
    };
}

/// The tenant column of a [`tenant_table!`]: `tenant_id` unless one is
/// given.
#[doc(hidden)]
#[macro_export]
macro_rules! __tenant_table_column {
    () => {
        "tenant_id"
    };
    ($column:literal) => {
        $column
    };
}

#[doc(hidden)]
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Compile-time name check used by [`tenant_table!`]: lowercase identifiers,
/// optionally one `schema.` prefix.
#[doc(hidden)]
pub const fn is_sql_name(name: &str, allow_schema: bool) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    let mut part_len = 0;
    let mut dots = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'.' {
            if !allow_schema || dots == 1 || part_len == 0 {
                return false;
            }
            dots += 1;
            part_len = 0;
        } else if b.is_ascii_lowercase() || b == b'_' || (part_len > 0 && b.is_ascii_digit()) {
            part_len += 1;
            if part_len > 63 {
                return false;
            }
        } else {
            return false;
        }
        i += 1;
    }
    part_len > 0
}

#[cfg(test)]
mod tests {
    use super::{is_sql_name, same_name};

    #[test]
    fn sql_names() {
        assert!(is_sql_name("orders", false));
        assert!(is_sql_name("billing.invoices", true));
        for bad in ["", "Orders", "1a", "a-b", "a.b", "a;", "a b"] {
            assert!(!is_sql_name(bad, false), "{bad:?}");
        }
        assert!(!is_sql_name("a.b.c", true));
        assert!(!is_sql_name(".a", true));
        assert!(!is_sql_name("a.", true));
    }

    /// PostgreSQL truncates names longer than 63 bytes, so two long names
    /// could name one table: 63 is accepted, 64 is not, in each part.
    #[test]
    fn sql_names_are_63_bytes_at_most_per_part() {
        let n63 = format!("t{}", "x".repeat(62));
        let n64 = format!("{n63}x");
        assert!(is_sql_name(&n63, false));
        assert!(!is_sql_name(&n64, false));
        assert!(is_sql_name(&format!("{n63}.{n63}"), true));
        assert!(!is_sql_name(&format!("{n63}.{n64}"), true));
        assert!(!is_sql_name(&format!("{n64}.orders"), true));
        // Digits and underscores after the first byte, underscores first.
        for good in ["a1", "_orders", "order_lines_2", "s1.t_2"] {
            assert!(is_sql_name(good, true), "{good:?}");
        }
        for bad in ["1a", "s.1t", "a.b.", "a..b", "é"] {
            assert!(!is_sql_name(bad, true), "{bad:?}");
        }
    }

    #[test]
    fn same_name_compares_every_byte() {
        assert!(same_name("tenant_id", "tenant_id"));
        assert!(same_name("", ""));
        assert!(!same_name("tenant_id", "tenant_ix"));
        assert!(!same_name("xenant_id", "tenant_id"));
        assert!(!same_name("tenant_id", "tenant_i"));
        assert!(!same_name("tenant_i", "tenant_id"));
    }
}
