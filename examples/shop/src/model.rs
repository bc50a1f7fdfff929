//! The rows the shop's queries return.

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Its id within the tenant.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Unique within the tenant.
    pub email: String,
}

/// A product, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Its id within the tenant.
    pub id: i64,
    /// Stock-keeping unit, unique within the tenant.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Current price.
    pub price_cents: i64,
}

/// A category and its path from the root asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryPath {
    /// Its id within the tenant.
    pub id: i64,
    /// `Root / Child / ...`.
    pub path: String,
    /// 0 for the root.
    pub depth: i32,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLineView {
    /// Position in the order.
    pub line_no: i32,
    /// The product's SKU.
    pub sku: String,
    /// How many.
    pub qty: i32,
    /// `qty * price`.
    pub amount_cents: i64,
}

/// An order with its total and what was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    /// Its id within the tenant.
    pub id: i64,
    /// `open` or `paid`.
    pub status: String,
    /// Sum of its lines.
    pub total_cents: i64,
    /// Sum of its payments.
    pub paid_cents: i64,
}

/// Revenue of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRevenue {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Sum of the day's order lines.
    pub revenue_cents: i64,
}

/// A product's rank by revenue within its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRank {
    /// The category.
    pub category_id: i64,
    /// The product's SKU.
    pub sku: String,
    /// Its revenue.
    pub revenue_cents: i64,
    /// 1 for the best seller of the category.
    pub rank: i64,
}

/// What a customer spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerValue {
    /// The customer's name.
    pub name: String,
    /// Everything they ordered.
    pub spent_cents: i64,
    /// Their share of the tenant's revenue, in percent (rounded down).
    pub percent: i64,
}
