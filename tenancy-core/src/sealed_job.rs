//! [`SealedJob`]: a [`TenantJob`] that cannot be moved to another tenant
//! while it waits in a queue.
//!
//! A `TenantJob` is plain data: whoever can write to the queue (a bug, a
//! compromised producer, an operator's script) can change its tenant id,
//! and the worker then runs the job as the other tenant. A sealed job
//! carries an HMAC-SHA256 over its tenant id, payload and impersonation
//! mark (the staff member acting as the tenant's user, if one was), made with a key
//! from configuration; the worker opens it with the same keys and gets the
//! job back only if nothing was changed.
//!
//! What a [`Tenant`](crate::Tenant) value proves, and what it does not: it
//! can be built ([`Tenant::builder`](crate::Tenant::builder)) or deserialized
//! by any code, so holding one says nothing about where it came from. Take
//! tenants from the tenant store, by an id you trust: the request's
//! resolution, or a job you opened here.

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use uuid::Uuid;

use crate::key_ring::{KeyError, KeyRing, RingKey};
use crate::{TenantId, TenantIdType, TenantJob};

pub use crate::key_ring::MIN_SECRET_LEN;

/// What the MAC covers comes after this label, so a MAC made for anything
/// else can never open a job.
const DOMAIN: &[u8] = b"tenancy sealed job v1";

/// Why a job could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A secret or key id was refused.
    #[error("job key: {0}")]
    Key(#[from] KeyError),
    /// The job names a key that is not configured (retired, or forged).
    #[error(
        "the job was sealed with key {0:?}, which is not configured: it is refused; keep retired keys \
         with `JobKeys::with_previous` until their jobs have drained"
    )]
    UnknownKey(String),
    /// The MAC does not match: the tenant id or the payload was changed,
    /// or the job was sealed with another secret.
    #[error(
        "the job's seal does not match its tenant and payload: it was changed in the queue; it is refused"
    )]
    BadSeal,
    /// The payload could not be serialized or deserialized.
    #[error("the job payload could not be (de)serialized: {0}")]
    Payload(#[from] serde_json::Error),
}

/// The keys that seal and open jobs: the current one seals, it and the
/// previous ones open (key rotation). Build it from configuration; there
/// is no `Default`, and `Debug` shows key ids only.
///
/// ```
/// use tenancy_core::{Tenant, TenantId, TenantJob};
/// use tenancy_core::sealed_job::{JobKeys, SealError};
///
/// let keys = JobKeys::new("2026-11", &[7; 32])?;
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// let sealed = keys.seal(&TenantJob::for_tenant(&acme, "send-receipt:42"))?;
/// let wire = serde_json::to_string(&sealed)?;
///
/// // Worker: open, then look the tenant up by the id the job carries.
/// let job: TenantJob<String> = keys.open(&serde_json::from_str(&wire)?)?;
/// assert_eq!(job.tenant_id(), acme.id());
///
/// // Moved to another tenant in the queue: refused.
/// let forged = wire.replace(&acme.id().to_string(), &TenantId::new_v4().to_string());
/// let err = keys.open::<String, tenancy_core::uuid::Uuid>(&serde_json::from_str(&forged)?).unwrap_err();
/// assert!(matches!(err, SealError::BadSeal));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JobKeys {
    ring: KeyRing,
}

impl std::fmt::Debug for JobKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobKeys")
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

impl JobKeys {
    /// Keys whose current key is `secret`, named `id` (the name travels
    /// with each job, so a worker knows which key to check it with).
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, SealError> {
        Ok(Self {
            ring: KeyRing::new(id, secret)?,
        })
    }

    /// Adds a previous key: it no longer seals, but still opens the jobs
    /// sealed with it. Drop it once those jobs have drained.
    pub fn with_previous(self, id: &str, secret: &[u8]) -> Result<Self, SealError> {
        Ok(Self {
            ring: self.ring.with_previous(id, secret)?,
        })
    }

    /// Seals `job` with the current key.
    pub fn seal<P: Serialize, K: TenantIdType>(
        &self,
        job: &TenantJob<P, K>,
    ) -> Result<SealedJob<K>, SealError> {
        let payload = serde_json::to_string(job.payload())?;
        let key = self.ring.current();
        let impersonated_by = job.impersonated_by().map(str::to_owned);
        let mac = mac_of(key, &job.tenant_id(), impersonated_by.as_deref(), &payload)
            .finalize()
            .into_bytes();
        Ok(SealedJob {
            key: key.id().to_owned(),
            tenant_id: job.tenant_id(),
            impersonated_by,
            payload,
            mac: hex(&mac),
        })
    }

    /// Opens `sealed`: checks its MAC with the key it names (in constant
    /// time), then deserializes the payload. Nothing of a job that fails
    /// the check is returned.
    pub fn open<P: DeserializeOwned, K: TenantIdType>(
        &self,
        sealed: &SealedJob<K>,
    ) -> Result<TenantJob<P, K>, SealError> {
        let key = self
            .ring
            .get(&sealed.key)
            .ok_or_else(|| SealError::UnknownKey(sealed.key.chars().take(64).collect()))?;
        let mac = unhex(&sealed.mac).ok_or(SealError::BadSeal)?;
        mac_of(
            key,
            &sealed.tenant_id,
            sealed.impersonated_by.as_deref(),
            &sealed.payload,
        )
        .verify_slice(&mac)
        .map_err(|_| SealError::BadSeal)?;
        let payload = serde_json::from_str(&sealed.payload)?;
        Ok(TenantJob::from_parts(
            sealed.tenant_id.clone(),
            sealed.impersonated_by.clone(),
            payload,
        ))
    }
}

/// The MAC state over the domain label, key id, the tenant id's type
/// and text, the payload and, for a job made while impersonated, the staff
/// member, each length-prefixed so no two inputs read the same (the bigint
/// id 42 is not the text id "42", and a job without the mark is not the
/// same job with it: one part fewer).
fn mac_of<K: TenantIdType>(
    key: &RingKey,
    tenant: &TenantId<K>,
    impersonated_by: Option<&str>,
    payload: &str,
) -> Hmac<Sha256> {
    let mut mac = key.mac();
    let tenant = tenant.to_string();
    let parts = [
        DOMAIN,
        key.id().as_bytes(),
        K::SQL_TYPE.as_str().as_bytes(),
        tenant.as_bytes(),
        payload.as_bytes(),
    ];
    for part in parts.into_iter().chain(impersonated_by.map(str::as_bytes)) {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// A sealed [`TenantJob`], ready for the queue (serde-serializable). Only
/// [`JobKeys::open`] turns it back into a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "K: TenantIdType", deserialize = "K: TenantIdType"))]
pub struct SealedJob<K = Uuid> {
    key: String,
    tenant_id: TenantId<K>,
    /// The staff member who impersonated the tenant's user, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    impersonated_by: Option<String>,
    /// The payload as JSON text, exactly as sealed.
    payload: String,
    mac: String,
}

impl<K: TenantIdType> SealedJob<K> {
    /// The tenant the job claims (not yet checked: open it first).
    pub fn claimed_tenant_id(&self) -> TenantId<K> {
        self.tenant_id.clone()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tenant;

    fn tenant() -> Tenant {
        Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build()
    }

    fn keys() -> JobKeys {
        JobKeys::new("k2", &[2; 32]).unwrap()
    }

    #[test]
    fn a_sealed_job_opens_unchanged() {
        let acme = tenant();
        let sealed = keys()
            .seal(&TenantJob::for_tenant(&acme, vec![1, 2, 3]))
            .unwrap();
        let job: TenantJob<Vec<u8>> = keys().open(&sealed).unwrap();
        assert_eq!(job.tenant_id(), acme.id());
        assert_eq!(job.payload(), &vec![1, 2, 3]);
    }

    #[test]
    fn any_change_in_the_queue_is_refused() {
        let acme = tenant();
        let sealed = keys().seal(&TenantJob::for_tenant(&acme, 7_u32)).unwrap();
        let mut moved = sealed.clone();
        moved.tenant_id = TenantId::new_v4();
        let mut edited = sealed.clone();
        edited.payload = "8".into();
        let mut garbled = sealed.clone();
        garbled.mac = "zz".into();
        for forged in [moved, edited, garbled] {
            assert!(matches!(
                keys().open::<u32, _>(&forged),
                Err(SealError::BadSeal)
            ));
        }
        let other_secret = JobKeys::new("k2", &[3; 32]).unwrap();
        assert!(matches!(
            other_secret.open::<u32, _>(&sealed),
            Err(SealError::BadSeal)
        ));
    }

    #[test]
    fn the_impersonation_mark_is_sealed_with_the_job() {
        let acme = tenant();
        let sealed = keys()
            .seal(&TenantJob::for_tenant(
                &acme.impersonated("jane@staff"),
                7_u32,
            ))
            .unwrap();
        let job: TenantJob<u32> = keys().open(&sealed).unwrap();
        assert_eq!(job.impersonated_by(), Some("jane@staff"));
        // Dropped, changed or added in the queue: refused.
        let mut stripped = sealed.clone();
        stripped.impersonated_by = None;
        let mut changed = sealed.clone();
        changed.impersonated_by = Some("joe@staff".into());
        let mut added = keys().seal(&TenantJob::for_tenant(&acme, 7_u32)).unwrap();
        added.impersonated_by = Some("jane@staff".into());
        for forged in [stripped, changed, added] {
            assert!(matches!(
                keys().open::<u32, _>(&forged),
                Err(SealError::BadSeal)
            ));
        }
    }

    #[test]
    fn rotation_opens_old_jobs_and_seals_with_the_new_key() {
        let acme = tenant();
        let old = JobKeys::new("k1", &[1; 32]).unwrap();
        let queued = old.seal(&TenantJob::for_tenant(&acme, ())).unwrap();
        let rotated = keys().with_previous("k1", &[1; 32]).unwrap();
        assert!(rotated.open::<(), _>(&queued).is_ok());
        let fresh = rotated.seal(&TenantJob::for_tenant(&acme, ())).unwrap();
        assert_eq!(fresh.key, "k2");
        // Once k1 is retired, its jobs are refused.
        assert!(matches!(
            keys().open::<(), _>(&queued),
            Err(SealError::UnknownKey(id)) if id == "k1"
        ));
    }

    #[test]
    fn weak_keys_and_bad_ids_are_refused_and_debug_hides_secrets() {
        assert!(matches!(
            JobKeys::new("k", &[0; 16]),
            Err(SealError::Key(KeyError::WeakKey { len: 16, .. }))
        ));
        assert!(matches!(
            JobKeys::new("", &[0; 32]),
            Err(SealError::Key(KeyError::InvalidKeyId(_)))
        ));
        let debug = format!("{:?}", JobKeys::new("k", &[0xab; 32]).unwrap());
        assert!(debug.contains("\"k\"") && !debug.contains("171"), "{debug}");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xfe, 0xff])),
            Some(vec![0, 1, 0xfe, 0xff])
        );
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("gg"), None);
    }
}
