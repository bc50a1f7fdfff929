//! The [`UsageLedger`] as the observer of a metered
//! [`TenantPool`](tenancy_sqlx::TenantPool): database use per tenant.

use tenancy_core::{AnyTenantId, TenantIdType};
use tenancy_sqlx::{TxObserver, TxReport};

use crate::UsageLedger;

/// Counts every transaction of a metered pool: its time whatever its
/// outcome (a rolled back or failed transaction used the database too),
/// and the rows written of committed ones.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// use tenancy_metering::{TenantLabels, UsageLedger};
/// use tenancy_sqlx::{TenantPool, TxMeter};
///
/// let ledger = UsageLedger::new(TenantLabels::top(100));
/// let meter = TxMeter::new(ledger.clone()).rows_written_in(["orders"])?;
/// let pool = TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?).metered(meter);
///
/// let mut tx = pool.begin(&acme).await?;
/// sqlx::query("INSERT INTO orders (item) VALUES ('Pie'), ('Tea')").execute(&mut tx).await?;
/// tx.commit().await?;
///
/// let usage = ledger.take();
/// assert_eq!((usage[0].1.transactions, usage[0].1.rows_written), (1, 2));
/// # Ok(()) }
/// ```
impl<K: TenantIdType> TxObserver<K> for UsageLedger {
    fn transaction_ended(&self, report: &TxReport<'_, K>) {
        self.transaction(
            AnyTenantId::from(report.tenant),
            report.tenant.settings().plan.as_deref(),
            report.elapsed,
            report.rows_written.unwrap_or(0),
        );
    }
}
