//! Tenant-namespaced cache keys and storage paths.
//!
//! Both helpers take the tenant from [`TenantContext`](crate::TenantContext) and fail closed with
//! [`TenantError::Missing`] when there is none, so a key or path can never be
//! built without a tenant prefix.

use std::path::{Component, Path, PathBuf};

use crate::error::shorten;
use crate::{AnyTenant, Tenant, TenantError, TenantIdType};

/// A cache key in the current tenant's namespace: `tenant:{id}:{key}`.
///
/// ```
/// use tenancy_core::{Tenant, TenantContext, TenantError, TenantId};
///
/// assert_eq!(tenancy_core::cache_key("user:42"), Err(TenantError::Missing));
///
/// let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
/// let acme = Tenant::builder(id, "acme".parse()?).build();
/// let key = TenantContext::sync_scope(acme, || tenancy_core::cache_key("user:42"))?;
/// assert_eq!(key, "tenant:67e55044-10b1-426f-9247-bb680e5fe0c8:user:42");
/// # Ok::<(), TenantError>(())
/// ```
pub fn cache_key(key: &str) -> Result<String, TenantError> {
    Ok(AnyTenant::current()?.cache_key(key))
}

/// A storage path in the current tenant's directory: `tenants/{id}/{relative}`.
///
/// `relative` must be a relative path of plain names. Absolute paths, `..`,
/// `.` and NUL bytes are rejected with [`TenantError::InvalidPath`], so no
/// input can reach another tenant's files.
///
/// ```
/// use std::path::Path;
/// use tenancy_core::{Tenant, TenantContext, TenantError, TenantId};
///
/// let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
/// let acme = Tenant::builder(id, "acme".parse()?).build();
/// let path = TenantContext::sync_scope(acme, || tenancy_core::storage_path("invoices/2026-11.pdf"))?;
/// assert_eq!(path, Path::new("tenants/67e55044-10b1-426f-9247-bb680e5fe0c8/invoices/2026-11.pdf"));
/// # Ok::<(), TenantError>(())
/// ```
pub fn storage_path(relative: impl AsRef<Path>) -> Result<PathBuf, TenantError> {
    let tenant = AnyTenant::current()?;
    storage_path_for(tenant.id_display(), relative.as_ref())
}

/// [`storage_path`] for an explicitly given tenant.
pub fn tenant_storage_path<K: TenantIdType>(
    tenant: &Tenant<K>,
    relative: impl AsRef<Path>,
) -> Result<PathBuf, TenantError> {
    storage_path_for(tenant.id_ref(), relative.as_ref())
}

/// Joins `relative` under `tenants/{id}`, refusing anything that could leave
/// that directory.
fn storage_path_for(id: &dyn std::fmt::Display, relative: &Path) -> Result<PathBuf, TenantError> {
    let reject = |reason| TenantError::InvalidPath {
        path: shorten(&relative.to_string_lossy()),
        reason,
    };
    if relative.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(reject("it contains a NUL byte"));
    }
    if relative.as_os_str().is_empty() {
        return Err(reject("it is empty"));
    }
    let mut path = PathBuf::from("tenants");
    path.push(id.to_string());
    for component in relative.components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::ParentDir => return Err(reject("it contains '..'")),
            Component::CurDir => return Err(reject("it contains '.'")),
            Component::RootDir | Component::Prefix(_) => return Err(reject("it is absolute")),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantContext;
    use crate::TenantId;

    fn acme() -> Tenant {
        Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build()
    }

    #[test]
    fn fail_closed_without_a_tenant() {
        assert_eq!(cache_key("k"), Err(TenantError::Missing));
        assert_eq!(storage_path("a.txt"), Err(TenantError::Missing));
    }

    #[test]
    fn rejects_paths_that_leave_the_tenant_directory() {
        let t = acme();
        for (bad, why) in [
            ("../b", "'..'"),
            ("a/../../b", "'..'"),
            ("/etc/passwd", "absolute"),
            ("./a", "'.'"),
            ("", "empty"),
            ("a\0b", "NUL"),
        ] {
            let err = tenant_storage_path(&t, bad).unwrap_err();
            assert!(
                matches!(&err, TenantError::InvalidPath { reason, .. } if reason.contains(why)),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn keys_of_two_tenants_never_collide() {
        let (a, b) = (acme(), acme());
        let ka = TenantContext::sync_scope(a.clone(), || cache_key("user:1")).unwrap();
        let kb = TenantContext::sync_scope(b.clone(), || cache_key("user:1")).unwrap();
        assert_ne!(ka, kb);
        let pa = tenant_storage_path(&a, "x/y").unwrap();
        assert!(pa.starts_with(format!("tenants/{}", a.id())));
        assert!(pa.ends_with("x/y"));
    }
}
