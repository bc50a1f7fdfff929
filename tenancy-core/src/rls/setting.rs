//! [`SettingName`]: the configuration parameter that carries the tenant,
//! and [`SettingValue`]: a value written into SQL.

use std::fmt;

use super::{InvalidName, check_ident};
use crate::IdSqlType;

/// The name of the PostgreSQL configuration parameter that carries the
/// tenant id, such as `app.tenant_id`.
///
/// Custom parameters need a dot (`prefix.name`); both parts are validated as
/// identifiers, so the name can be written into SQL as is.
///
/// ```
/// use tenancy_core::rls::SettingName;
///
/// assert_eq!(SettingName::default().as_str(), "app.tenant_id");
/// assert!(SettingName::new("myapp.current_tenant").is_ok());
/// assert!(SettingName::new("tenant_id").is_err()); // no prefix
/// assert!(SettingName::new("app.x'; DROP TABLE t; --").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettingName(Box<str>);

impl SettingName {
    /// The default: `app.tenant_id`.
    pub const DEFAULT: &'static str = "app.tenant_id";

    /// Validates `name`: `prefix.name`, each part a lowercase identifier.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let Some((prefix, rest)) = name.split_once('.') else {
            return Err(InvalidName::new(
                "setting name",
                name,
                "a custom setting needs a prefix, as in app.tenant_id",
            ));
        };
        check_ident("setting name", prefix)?;
        check_ident("setting name", rest)?;
        Ok(Self(name.into()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The expression for the current tenant as the column default, for
    /// tenant ids of type `id_type`:
    /// `nullif(current_setting('app.tenant_id', true), '')::uuid`.
    ///
    /// ```
    /// use tenancy_core::IdSqlType;
    /// use tenancy_core::rls::SettingName;
    ///
    /// assert_eq!(
    ///     SettingName::default().tenant_expr(IdSqlType::BigInt),
    ///     "nullif(current_setting('app.tenant_id', true), '')::bigint"
    /// );
    /// ```
    pub fn tenant_expr(&self, id_type: IdSqlType) -> String {
        format!(
            "nullif(current_setting('{}', true), '')::{}",
            self.0,
            id_type.as_str()
        )
    }

    /// The expression for the current tenant in a policy, evaluated once per
    /// statement: `(SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)`.
    pub fn policy_expr(&self, id_type: IdSqlType) -> String {
        format!("(SELECT {})", self.tenant_expr(id_type))
    }
}

impl Default for SettingName {
    fn default() -> Self {
        Self(Self::DEFAULT.into())
    }
}

impl fmt::Display for SettingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A setting value, written into SQL as a single-quoted literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue(Box<str>);

impl SettingValue {
    /// Validates `value`: no NUL and no backslash (so the literal means the
    /// same whatever `standard_conforming_strings` says); quotes are doubled.
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        if value.contains(['\0', '\\']) {
            return Err(InvalidName::new(
                "setting value",
                value,
                "it contains a NUL byte or a backslash",
            ));
        }
        Ok(Self(value.into()))
    }

    pub(super) fn sql(&self) -> String {
        format!("'{}'", self.0.replace('\'', "''"))
    }

    /// The value, unquoted.
    pub(super) fn text(&self) -> &str {
        &self.0
    }
}
