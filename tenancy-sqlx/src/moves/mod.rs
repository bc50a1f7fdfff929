//! Moving a tenant between tiers while its traffic runs: shared tables →
//! its own schema → its own database (or server), and back.
//!
//! [`TenantMover::move_to`] does it in five steps:
//!
//! 1. **Freeze.** The tenant's status becomes
//!    [`Moving`](tenancy_core::TenantStatus::Moving): tenancy-tower answers
//!    its requests that may write with 503 and `Retry-After` (nothing is
//!    lost: the client tries again), its transactions open `READ ONLY`,
//!    its jobs are retried later. Reads go on. The mover then waits
//!    [`drain`](TenantMover::drain): as long as your tenant caches keep an
//!    answer, so that every process has seen the new status.
//! 2. **Copy.** One `REPEATABLE READ` snapshot of the tenant's rows on the
//!    source, written through a tenant transaction on the destination
//!    (row-level security checks every copied row there), parents before
//!    children.
//! 3. **Verify.** Per table, the row count and a checksum of the rows
//!    (`md5` over every row's text, in a fixed order) on both sides, and
//!    once more on the source in a fresh snapshot: a write that slipped in
//!    before the freeze took hold fails the check, the copy is rolled back
//!    and done again (5 times at most, then the move fails and the tenant
//!    stays). Only then does the destination commit. What the check cannot
//!    see is a write after it, from a process that held the tenant, as
//!    read before the freeze, for longer than the drain: set the drain to
//!    your caches' time to live, and do not keep tenants longer.
//! 4. **Switch.** The placement changes in the tenant store and the status
//!    goes back to what it was (active, or suspended for a suspended
//!    tenant; a suspension during the move stays): the next transaction
//!    runs at the destination.
//! 5. **Clean up**, after another `drain` (a cached tenant may still read
//!    the old copy): the source rows are deleted through a tenant
//!    transaction, or the source schema is dropped.
//!
//! The pool must reach both placements: a [`TenantPool`](crate::TenantPool)
//! for shared tables and schemas of one database, a
//! [`RoutedPool`](crate::routing::RoutedPool) with a
//! [`PlacementRouter`](crate::routing::PlacementRouter) across databases
//! and servers. The destination's tables must exist: a new schema is
//! provisioned by the mover (give it a
//! [`SchemaProvisioner`]); a database is
//! migrated by you. Sequences of `serial` and identity columns are not
//! advanced at the destination: with such keys, advance them (`setval`) as
//! the owner before the tenant writes there; UUID keys need nothing.
//!
//! ```no_run
//! use std::time::Duration;
//! use tenancy_core::{Placement, SchemaName};
//! use tenancy_sqlx::moves::TenantMover;
//!
//! # async fn run(store: tenancy_sqlx::PgTenantStore, pool: tenancy_sqlx::TenantPool,
//! #     provisioner: tenancy_sqlx::schemas::SchemaProvisioner, tenant: tenancy_core::Tenant)
//! #     -> tenancy_sqlx::Result<()> {
//! let mover = TenantMover::new(store, pool)
//!     .with_schemas(provisioner)
//!     .drain(Duration::from_secs(60)); // the tenant caches' time to live
//! let to = Placement::shared().with_schema(SchemaName::for_tenant(&tenant.id()));
//! let report = mover.move_to(&tenant, to).await?;
//! println!("{} rows moved, writes frozen for {:?}", report.rows(), report.frozen_for);
//! # Ok(()) }
//! ```

mod copy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tenancy_core::rls::{IsolationLevel, TxOptions};
use tenancy_core::uuid::Uuid;
use tenancy_core::{Placement, Tenant, TenantId, TenantStatus, TenantStoreExt};

use crate::lifecycle::delete_rows;
use crate::schemas::SchemaProvisioner;
use crate::{BeginTenantTx, Error, PgTenantId, PgTenantStore, Result, TenantTx};

pub use copy::TableCopy;

/// How many times the copy is done again when the source changed under it.
const ATTEMPTS: u32 = 5;

/// Called after each status or placement change, with the tenant's id:
/// clear your tenant caches there.
type OnChange<K> = Arc<dyn Fn(&TenantId<K>) + Send + Sync>;

/// Moves tenants between placements while their traffic runs (see the
/// [module](self) docs).
pub struct TenantMover<P, K = Uuid> {
    store: PgTenantStore<K>,
    pool: P,
    provisioner: Option<SchemaProvisioner>,
    column: String,
    drain: Duration,
    on_change: Option<OnChange<K>>,
}

impl<P: std::fmt::Debug, K> std::fmt::Debug for TenantMover<P, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantMover")
            .field("pool", &self.pool)
            .field("column", &self.column)
            .field("drain", &self.drain)
            .finish_non_exhaustive()
    }
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MoveReport {
    /// Every tenant table: rows copied and their checksum, the same on
    /// both sides.
    pub tables: Vec<TableCopy>,
    /// Copies done; more than 1 when the source changed under a copy.
    pub attempts: u32,
    /// From the freeze to the switch: how long writes were refused.
    pub frozen_for: Duration,
    /// Why the old copy could not be deleted after the switch, if it could
    /// not (for example a table the pool's role may not delete from): the
    /// tenant has moved, and the old copy is for you to delete.
    pub old_copy_left: Option<String>,
}

impl MoveReport {
    /// Rows copied over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

impl<K: PgTenantId, P: BeginTenantTx<K>> TenantMover<P, K> {
    /// A mover that records placements and statuses in `store` and reaches
    /// both placements through `pool`.
    pub fn new(store: PgTenantStore<K>, pool: P) -> Self {
        Self {
            store,
            pool,
            provisioner: None,
            column: "tenant_id".to_owned(),
            drain: Duration::ZERO,
            on_change: None,
        }
    }

    /// Provisions a destination schema (schema, role, grants, migrations)
    /// before the copy, and drops a source schema when cleaning up.
    #[must_use]
    pub fn with_schemas(mut self, provisioner: SchemaProvisioner) -> Self {
        self.provisioner = Some(provisioner);
        self
    }

    /// The tenant column, if not `tenant_id`.
    #[must_use]
    pub fn with_tenant_column(mut self, column: &str) -> Self {
        column.clone_into(&mut self.column);
        self
    }

    /// How long to wait after a status change before relying on it: the
    /// longest time any process caches a tenant (tenancy-tower's
    /// `CachedTenantStore` TTL). Zero by default, right only when every
    /// cache is cleared by [`on_change`](Self::on_change).
    #[must_use]
    pub fn drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    /// Runs `f` with the tenant's id after each status or placement change.
    #[must_use]
    pub fn on_change(mut self, f: impl Fn(&TenantId<K>) + Send + Sync + 'static) -> Self {
        self.on_change = Some(Arc::new(f));
        self
    }

    /// Moves `tenant`'s data to `to` and records it there, while its
    /// traffic runs: freeze, copy, verify, switch, clean up (see the
    /// [module](self) docs). On an error before the switch, the tenant is
    /// left where it was, with the status it had, and the destination holds
    /// nothing of it. `tenant` must be as the store has it now (its
    /// placement is checked); a tenant already moving is refused.
    ///
    /// After the switch the move has happened: an old copy that cannot be
    /// deleted is reported in [`MoveReport::old_copy_left`], not as an
    /// error. If the switch itself fails (the store cannot be written), or
    /// this future is dropped after the freeze, the tenant stays `moving`:
    /// its writes are refused, none is lost; set its status (and placement)
    /// by hand.
    pub async fn move_to(&self, tenant: &Tenant<K>, to: Placement) -> Result<MoveReport> {
        let from = tenant.placement().clone();
        // The status as the store has it now: restored after the move.
        let id = tenant.id_ref();
        let before = match self.store.by_id(tenant.id()).await? {
            Some(now) if now.placement() != &from => {
                return Err(Error::Move(
                    "the tenant's placement changed since it was read: read it again",
                ));
            }
            Some(now) if now.is_moving() => {
                return Err(Error::Move("the tenant is being moved already"));
            }
            Some(now) => now.status(),
            None => return Err(Error::Move("the tenant is not in the store")),
        };
        if from == to {
            return Err(Error::Move("the tenant is already there"));
        }
        if from.is_sealed() || to.is_sealed() {
            return Err(Error::Move(
                "moving sealed tenants: unseal first, move, seal again",
            ));
        }
        // Checked before anything changes: a schema is provisioned at the
        // destination, and dropped at the source after the switch.
        if from.schema().is_some() || to.schema().is_some() {
            self.provisioner()?;
        }
        if let Some(schema) = to.schema() {
            self.provisioner()?.provision(schema).await?;
        }
        if !self
            .replace_status(id, before, TenantStatus::Moving)
            .await?
        {
            return Err(Error::Move(
                "the tenant's status changed meanwhile: try again",
            ));
        }
        let frozen = Instant::now();
        tokio::time::sleep(self.drain).await;
        let copied = self.copy_verified(tenant, &from, &to).await;
        let (tables, attempts) = match copied {
            Ok(done) => done,
            Err(err) => {
                // Fail back: the tenant stays where it was, as it was.
                let _ = self.replace_status(id, TenantStatus::Moving, before).await;
                return Err(err);
            }
        };
        self.store.set_placement(id, &to).await?;
        // A suspension during the move stays: only `moving` is replaced.
        let _ = self
            .replace_status(id, TenantStatus::Moving, before)
            .await?;
        let frozen_for = frozen.elapsed();
        tokio::time::sleep(self.drain).await;
        let old_copy_left = self
            .clean_up(tenant, &from)
            .await
            .err()
            .map(|e| e.to_string());
        Ok(MoveReport {
            tables,
            attempts,
            frozen_for,
            old_copy_left,
        })
    }

    /// `from` → `to` in the store, then [`on_change`](Self::on_change).
    /// Returns whether it changed (it does not when someone else changed
    /// the status meanwhile).
    async fn replace_status(
        &self,
        id: &TenantId<K>,
        from: TenantStatus,
        to: TenantStatus,
    ) -> Result<bool> {
        let changed = self.store.replace_status(id, from, to).await?;
        if let Some(f) = &self.on_change {
            f(id);
        }
        Ok(changed)
    }

    /// The copy, verified, committed at the destination; done again while
    /// the source changes under it.
    async fn copy_verified(
        &self,
        tenant: &Tenant<K>,
        from: &Placement,
        to: &Placement,
    ) -> Result<(Vec<TableCopy>, u32)> {
        for attempt in 1..=ATTEMPTS {
            let snapshot = TxOptions::default()
                .isolation(IsolationLevel::RepeatableRead)
                .read_only();
            let mut source = self.begin(tenant, from, &snapshot).await?;
            let mut destination = self.begin(tenant, to, &TxOptions::default()).await?;
            let tables = copy::copy_tables(&mut source, &mut destination, &self.column).await?;
            source.rollback().await?;
            // A fresh snapshot of the source: has anything changed since?
            let mut now = self
                .begin(tenant, from, &TxOptions::default().read_only())
                .await?;
            let unchanged = copy::checksums_match(&mut now, &self.column, &tables).await?;
            now.rollback().await?;
            if unchanged {
                destination.commit().await?;
                return Ok((tables, attempt));
            }
            destination.rollback().await?;
        }
        Err(Error::Move(
            "the tenant's rows kept changing during the copy: is a process writing with a tenant it cached longer than the drain?",
        ))
    }

    /// A transaction of `tenant` at `placement`, whatever its status in
    /// the store (moving): the mover's own.
    async fn begin(
        &self,
        tenant: &Tenant<K>,
        placement: &Placement,
        options: &TxOptions,
    ) -> Result<TenantTx<K>> {
        let at = tenant
            .to_builder()
            .status(TenantStatus::Active)
            .settings(tenant.settings().clone().with_placement(placement.clone()))
            .build();
        self.pool.begin_with(&at, options).await
    }

    async fn clean_up(&self, tenant: &Tenant<K>, from: &Placement) -> Result<()> {
        if let Some(schema) = from.schema() {
            return self.provisioner()?.drop_schema(schema).await;
        }
        let mut tx = self.begin(tenant, from, &TxOptions::default()).await?;
        delete_rows(&mut tx, &self.column, false).await?;
        tx.commit().await
    }

    fn provisioner(&self) -> Result<&SchemaProvisioner> {
        self.provisioner.as_ref().ok_or(Error::Unsupported(
            "a placement with a schema: give the mover a SchemaProvisioner (with_schemas)",
        ))
    }
}
