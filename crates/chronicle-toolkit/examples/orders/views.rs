//! Read models of the orders example: one summary per order, and each
//! customer's orders with what they spent.
#![allow(dead_code, unreachable_pub, missing_docs)]

use crate::domain::{OrderEvent, PaymentEvent, order_upcasters};
use chronicle_core::{Filter, RecordedEvent};
use chronicle_toolkit::{MemoryProjection, decode_event};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OrderSummary {
    pub customer_id: String,
    pub status: &'static str,
    pub items: u32,
    pub total_cents: u64,
    pub currency: String,
    pub payment: &'static str,
}

/// Order id → summary.
pub type OrderSummaries = BTreeMap<String, OrderSummary>;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CustomerOrders {
    /// Order ids, oldest first.
    pub orders: Vec<String>,
    /// Orders neither shipped nor cancelled.
    pub open: u32,
    /// Total of the confirmed orders not cancelled since.
    pub spent_cents: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Customers {
    /// Customer id → their orders.
    pub customers: BTreeMap<String, CustomerOrders>,
    /// Order id → (customer id, total, confirmed): what later order events need.
    orders: BTreeMap<String, (String, u64, bool)>,
}

const ORDER_TYPES: [&str; 4] = ["OrderCreated", "OrderConfirmed", "OrderShipped", "OrderCancelled"];

/// Decodes an order event (upcasting old `OrderCreated` versions) and its order id.
fn order_event(e: &RecordedEvent) -> Result<(String, OrderEvent), String> {
    let id = e.stream_id.as_str().strip_prefix("order-").ok_or_else(|| format!("{} is not an order stream", e.stream_id))?;
    let (_, data) = order_upcasters().upcast(&e.event_type, e.schema_version, &e.data).map_err(|err| err.to_string())?;
    Ok((id.to_owned(), decode_event::<OrderEvent>(&e.event_type, &data).map_err(|err| err.to_string())?))
}

/// `order-summary`: status, size, total and payment state of every order.
pub fn order_summary() -> MemoryProjection<OrderSummaries> {
    let types = ORDER_TYPES.iter().chain(&["PaymentProcessed", "PaymentFailed", "PaymentRefunded"]).map(|t| (*t).to_owned()).collect();
    MemoryProjection::new("order-summary", |m: &mut OrderSummaries, e| {
        if let Some(payment) = e.stream_id.as_str().strip_prefix("payment-") {
            // The payment of order `o` is payment `o`.
            let state = match decode_event::<PaymentEvent>(&e.event_type, &e.data).map_err(|err| err.to_string())? {
                PaymentEvent::PaymentProcessed { .. } => "paid",
                PaymentEvent::PaymentFailed { .. } => "failed",
                PaymentEvent::PaymentRefunded { .. } => "refunded",
                PaymentEvent::PaymentRequested { .. } => "requested",
            };
            m.entry(payment.to_owned()).or_default().payment = state;
            return Ok(());
        }
        let (id, event) = order_event(e)?;
        let summary = m.entry(id).or_default();
        match event {
            OrderEvent::OrderCreated { customer_id, items, total_cents, currency, .. } => {
                summary.customer_id = customer_id;
                summary.items = items.iter().map(|i| i.quantity).sum();
                (summary.total_cents, summary.currency, summary.status) = (total_cents, currency, "created");
                if summary.payment.is_empty() {
                    summary.payment = "none";
                }
            }
            OrderEvent::OrderConfirmed { .. } => summary.status = "confirmed",
            OrderEvent::OrderShipped { .. } => summary.status = "shipped",
            OrderEvent::OrderCancelled { .. } => summary.status = "cancelled",
        }
        Ok(())
    })
    .with_filter(Filter { event_types: types, ..Filter::default() })
}

/// `customer-orders`: each customer's orders, how many are open, what they spent.
pub fn customer_orders() -> MemoryProjection<Customers> {
    MemoryProjection::new("customer-orders", |m: &mut Customers, e| {
        let (id, event) = order_event(e)?;
        if let OrderEvent::OrderCreated { customer_id, total_cents, .. } = event {
            let customer = m.customers.entry(customer_id.clone()).or_default();
            customer.orders.push(id.clone());
            customer.open += 1;
            m.orders.insert(id, (customer_id, total_cents, false));
            return Ok(());
        }
        let Some((customer_id, total, confirmed)) = m.orders.get_mut(&id) else {
            return Err(format!("{} for unknown order {id}", e.event_type));
        };
        let customer = m.customers.entry(customer_id.clone()).or_default();
        match event {
            OrderEvent::OrderConfirmed { .. } => {
                customer.spent_cents += *total;
                *confirmed = true;
            }
            OrderEvent::OrderShipped { .. } => customer.open = customer.open.saturating_sub(1),
            OrderEvent::OrderCancelled { .. } => {
                customer.open = customer.open.saturating_sub(1);
                if std::mem::take(confirmed) {
                    customer.spent_cents -= *total;
                }
            }
            OrderEvent::OrderCreated { .. } => {}
        }
        Ok(())
    })
    .with_filter(Filter { event_types: ORDER_TYPES.iter().map(|t| (*t).to_owned()).collect(), ..Filter::default() })
}
