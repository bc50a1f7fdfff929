//! [`Delete`]: scoped `DELETE`.

use std::marker::PhantomData;

use super::parts::Parts;
use super::{BoundToTenant, Unbound, binding_methods, filter_methods};
use crate::{Result, TenantTable, TenantTx};

/// A scoped `DELETE` from table `T`; runs only when `S` is [`Bound`](super::Bound). It
/// only removes the bound tenant's rows.
#[derive(Debug, Clone)]
pub struct Delete<T, S> {
    parts: Parts,
    state: S,
    table: PhantomData<T>,
}

impl<T: TenantTable> Delete<T, Unbound> {
    pub(crate) fn new() -> Self {
        Self {
            parts: Parts::default(),
            state: Unbound,
            table: PhantomData,
        }
    }
}

impl<T: TenantTable, S> Delete<T, S> {
    fn with_state<S2>(self, state: S2) -> Delete<T, S2> {
        Delete {
            parts: self.parts,
            state,
            table: PhantomData,
        }
    }
}

binding_methods!(Delete);
filter_methods!(Delete);

impl<T: TenantTable, S> Delete<T, S> {
    /// Runs the delete; returns the number of rows removed.
    pub async fn execute(mut self, tx: &mut TenantTx<T::Id>) -> Result<u64>
    where
        S: BoundToTenant<T::Id>,
    {
        let prepared = self.parts.prepare::<T>(self.state.bound(), tx)?;
        let sql = format!(
            "DELETE FROM {}{}",
            prepared.table,
            self.parts.where_clause(&prepared)
        );
        self.parts.execute(sql, tx).await
    }
}
