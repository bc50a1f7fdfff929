//! [`FindingCode`]: what kind of problem a [`Finding`](super::Finding) is.

use std::fmt;

use serde::Serialize;

/// Declares [`FindingCode`] with each code's stable name.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// A stable code for a kind of finding; serialized (and displayed) as
        /// its `snake_case` name, such as `rls_not_forced`. The table in the
        /// [`audit`](super) module lists them with their severity.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[non_exhaustive]
        pub enum FindingCode {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl FindingCode {
            /// Every code.
            pub const ALL: &[FindingCode] = &[$(Self::$variant,)*];

            /// The stable name, such as `rls_not_forced`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

codes! {
    /// `admin_policy_reaches_app`: an admin policy applies to the application role or to `PUBLIC`.
    AdminPolicyReachesApp => "admin_policy_reaches_app",
    /// `admin_role_bypasses_trail`: the admin role is a superuser or has `BYPASSRLS`: it reads without a trailed session.
    AdminRoleBypassesTrail => "admin_role_bypasses_trail",
    /// `admin_session_not_enforced`: a tenant table with admin access lacks a restrictive admin policy for some command: the admin role gets in through the tenant setting.
    AdminSessionNotEnforced => "admin_session_not_enforced",
    /// `admin_writes_untrailed`: admin sessions may write a tenant table whose writes are not trailed.
    AdminWritesUntrailed => "admin_writes_untrailed",
    /// `app_role_bypassrls`: the application role skips RLS entirely.
    AppRoleBypassrls => "app_role_bypassrls",
    /// `app_role_member_of_roles`: the application role can `SET ROLE` to other roles (in schema per tenant: every tenant's).
    AppRoleMemberOfRoles => "app_role_member_of_roles",
    /// `app_role_missing`: the named application role does not exist.
    AppRoleMissing => "app_role_missing",
    /// `app_role_owns_table`: the application role owns (or is a member of the owner of) a tenant table.
    AppRoleOwnsTable => "app_role_owns_table",
    /// `app_role_row_security_off`: `row_security = off` is set for the application role.
    AppRoleRowSecurityOff => "app_role_row_security_off",
    /// `app_role_superuser`: the application role skips RLS entirely.
    AppRoleSuperuser => "app_role_superuser",
    /// `app_role_temporary`: the application role may create temporary tables (`TEMPORARY`, granted to `PUBLIC` by default), which can shadow tenant tables.
    AppRoleTemporary => "app_role_temporary",
    /// `fk_without_index`: a foreign key whose columns no index leads with: cascades and deletes of referenced rows scan the table.
    FkWithoutIndex => "fk_without_index",
    /// `fk_without_tenant`: a foreign key to another tenant table without the tenant column.
    FkWithoutTenant => "fk_without_tenant",
    /// `index_unusable_under_rls`: an index whose operators are not leakproof (LIKE, jsonb, full text): unusable under RLS.
    IndexUnusableUnderRls => "index_unusable_under_rls",
    /// `materialized_view`: a materialized view over a tenant table (no RLS at all).
    MaterializedView => "materialized_view",
    /// `multiple_permissive_policies`: more than one permissive policy for the same commands: combined with OR, as loose as the loosest.
    MultiplePermissivePolicies => "multiple_permissive_policies",
    /// `no_policy`: RLS on but no policy (every query fails; someone will switch RLS off).
    NoPolicy => "no_policy",
    /// `no_tenant_index`: no index leads with the tenant column (slow policies).
    NoTenantIndex => "no_tenant_index",
    /// `policy_fail_open`: a policy that lets every row through when no tenant is set (`coalesce(setting, tenant_id)`, `setting IS NULL OR ...`).
    PolicyFailOpen => "policy_fail_open",
    /// `policy_not_tenant_scoped`: a permissive policy that does not compare the tenant column with the setting (`USING (true)`, another column).
    PolicyNotTenantScoped => "policy_not_tenant_scoped",
    /// `policy_or_widens`: a policy with `OR`, which can widen access beyond the tenant.
    PolicyOrWidens => "policy_or_widens",
    /// `policy_per_row_setting`: `current_setting` not wrapped in `(SELECT ...)`: evaluated per row (slow).
    PolicyPerRowSetting => "policy_per_row_setting",
    /// `rls_disabled`: row-level security not enabled.
    RlsDisabled => "rls_disabled",
    /// `rls_not_forced`: not `FORCE`d: the owner bypasses it.
    RlsNotForced => "rls_not_forced",
    /// `sealed_map_writable`: the map of sealed login roles to tenants is not protected (row-level security off or not forced, or writable by everyone).
    SealedMapWritable => "sealed_map_writable",
    /// `sealed_policy_missing`: sealed tenants exist but a tenant table lacks the sealed policies.
    SealedPolicyMissing => "sealed_policy_missing",
    /// `sealed_role_unsafe`: a sealed login role (or their group) has an attribute or membership that reaches beyond its tenant.
    SealedRoleUnsafe => "sealed_role_unsafe",
    /// `security_definer_executable`: the application role may call a `SECURITY DEFINER` function, whatever it reads (`EXECUTE` goes to `PUBLIC` by default).
    SecurityDefinerExecutable => "security_definer_executable",
    /// `security_definer_reads_tenant_table`: a `SECURITY DEFINER` function that mentions a tenant table.
    SecurityDefinerReadsTenantTable => "security_definer_reads_tenant_table",
    /// `security_definer_search_path`: a `SECURITY DEFINER` function without a fixed `search_path`.
    SecurityDefinerSearchPath => "security_definer_search_path",
    /// `setting_unset_unsafe`: `current_setting` without `missing_ok`, or without `nullif(.., '')`: errors when no tenant is set.
    SettingUnsetUnsafe => "setting_unset_unsafe",
    /// `table_reachable_without_rls`: a table without tenant column and without RLS that the application role can use, not declared shared.
    TableReachableWithoutRls => "table_reachable_without_rls",
    /// `table_without_tenant_column`: a table in a tenant-scoped schema without the tenant column.
    TableWithoutTenantColumn => "table_without_tenant_column",
    /// `tenant_column_nullable`: the tenant column allows NULL.
    TenantColumnNullable => "tenant_column_nullable",
    /// `unique_without_tenant`: a unique key without the tenant column: its errors reveal other tenants' rows.
    UniqueWithoutTenant => "unique_without_tenant",
    /// `view_bypasses_rls`: a view over a tenant table without `security_invoker`.
    ViewBypassesRls => "view_bypasses_rls",
    /// `write_not_checked`: a policy for writes whose check does not pin the tenant (`WITH CHECK (true)`).
    WriteNotChecked => "write_not_checked",
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for FindingCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FindingCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::FindingCode;

    #[test]
    fn a_code_equals_its_name_and_no_other() {
        let code = FindingCode::RlsNotForced;
        assert!(code == *"rls_not_forced");
        assert!(code == "rls_not_forced");
        assert!(code != *"rls_disabled");
        assert!(code != "rls_disabled");
        assert!(code != "");
    }

    #[test]
    fn names_are_unique_snake_case_and_serialize_as_themselves() {
        let mut seen = std::collections::BTreeSet::new();
        for code in FindingCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::json!(name))
            );
        }
    }
}
