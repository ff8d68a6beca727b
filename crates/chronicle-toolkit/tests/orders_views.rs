//! The orders example's read models through the kit's `History`.

#[path = "../examples/orders/domain.rs"]
mod domain;
#[path = "../examples/orders/views.rs"]
mod views;

use chronicle_toolkit::History;
use domain::*;

fn created(customer: &str, total_cents: u64) -> OrderEvent {
    let items = vec![Item { sku: "apple".into(), quantity: 2, price_cents: total_cents / 2 }];
    OrderEvent::OrderCreated {
        customer_id: customer.into(),
        items,
        total_cents,
        shipping_address: "x".into(),
        currency: "EUR".into(),
        tax_cents: 0,
    }
}

fn history() -> History {
    History::new()
        .event("order-o-1", &created("ann", 200))
        .event("inventory-apple", &InventoryEvent::StockAdded { quantity: 9 })
        .event("payment-o-1", &PaymentEvent::PaymentRequested { order_id: "o-1".into(), amount_cents: 200 })
        .event("payment-o-1", &PaymentEvent::PaymentProcessed { transaction_id: "tx".into() })
        .event("order-o-1", &OrderEvent::OrderConfirmed { payment_id: "o-1".into() })
        .event("order-o-2", &created("ann", 50))
        .event("order-o-3", &created("bob", 80))
        .event("order-o-3", &OrderEvent::OrderConfirmed { payment_id: "o-3".into() })
        .event("order-o-3", &OrderEvent::OrderCancelled { reason: "changed mind".into() })
        .event("order-o-1", &OrderEvent::OrderShipped { tracking: "t".into() })
}

#[test]
fn order_summary_tracks_status_and_payment() {
    let model = history().project(&views::order_summary()).unwrap();
    let o1 = &model["o-1"];
    assert_eq!((o1.customer_id.as_str(), o1.status, o1.items, o1.total_cents, o1.payment), ("ann", "shipped", 2, 200, "paid"));
    assert_eq!((model["o-2"].status, model["o-2"].payment), ("created", "none"));
    assert_eq!(model["o-3"].status, "cancelled");
    assert_eq!(model.len(), 3);
}

#[test]
fn customer_orders_counts_open_orders_and_spending() {
    let model = history().project(&views::customer_orders()).unwrap();
    let ann = &model.customers["ann"];
    assert_eq!((ann.orders.clone(), ann.open, ann.spent_cents), (vec!["o-1".to_owned(), "o-2".to_owned()], 1, 200));
    let bob = &model.customers["bob"];
    assert_eq!((bob.open, bob.spent_cents), (0, 0), "a cancelled confirmed order is no longer spending");
}

#[test]
fn an_event_for_an_unknown_order_is_a_handler_error() {
    let orphan = History::new().event("order-o-9", &OrderEvent::OrderShipped { tracking: "t".into() });
    let err = orphan.project(&views::customer_orders()).unwrap_err();
    assert!(err.to_string().contains("unknown order o-9"), "{err}");
}
