//! The example domain through the given/when/then kit: happy paths,
//! invariant violations, authorization failures.

#[path = "../examples/orders/domain.rs"]
mod domain;

use chronicle_toolkit::{CommandContext, given};
use domain::*;

fn apples(n: u32) -> Vec<Item> {
    vec![Item { sku: "apple".into(), quantity: n, price_cents: 100 }]
}

fn created() -> OrderEvent {
    OrderEvent::OrderCreated {
        customer_id: "ann".into(),
        items: apples(2),
        total_cents: 200,
        shipping_address: "1 Main St".into(),
        currency: "EUR".into(),
        tax_cents: 40,
    }
}

fn ann() -> CommandContext {
    CommandContext::actor("user", "ann")
}

#[test]
fn an_order_is_created_by_its_customer_with_totals() {
    let create = OrderCommand::Create { customer_id: "ann".into(), items: apples(2), shipping_address: "1 Main St".into() };
    let state = given::<Order>([]).by(ann()).when(create).then([created()]);
    assert_eq!((state.status, state.total_cents), (OrderStatus::Created, 200));
}

#[test]
fn order_invariants() {
    let empty = OrderCommand::Create { customer_id: "ann".into(), items: vec![], shipping_address: "x".into() };
    given::<Order>([]).by(ann()).when(empty).then_error_eq(OrderError::NoItems);
    let zero = OrderCommand::Create { customer_id: "ann".into(), items: apples(0), shipping_address: "x".into() };
    given::<Order>([]).by(ann()).when(zero).then_error_eq(OrderError::NoItems);
    let again = OrderCommand::Create { customer_id: "ann".into(), items: apples(1), shipping_address: "x".into() };
    given::<Order>([created()]).by(ann()).when(again).then_error_eq(OrderError::AlreadyExists);
    given::<Order>([]).when(OrderCommand::Confirm { payment_id: "p".into() }).then_error_eq(OrderError::NotFound);
    given::<Order>([created()])
        .by(CommandContext::actor("service", "ship"))
        .when(OrderCommand::Ship { tracking: "t".into() })
        .then_error(|e| matches!(e, OrderError::InvalidTransition { status: OrderStatus::Created, .. }));
    let shipped = [created(), OrderEvent::OrderConfirmed { payment_id: "p".into() }, OrderEvent::OrderShipped { tracking: "t".into() }];
    given::<Order>(shipped)
        .by(ann())
        .when(OrderCommand::Cancel { reason: "late".into() })
        .then_error(|e| matches!(e, OrderError::InvalidTransition { .. }));
}

#[test]
fn order_authorization() {
    let for_ann = OrderCommand::Create { customer_id: "ann".into(), items: apples(1), shipping_address: "x".into() };
    given::<Order>([]).by(CommandContext::actor("user", "eve")).when(for_ann).then_error(|e| matches!(e, OrderError::Unauthorized(_)));
    given::<Order>([created()])
        .by(CommandContext::actor("user", "eve"))
        .when(OrderCommand::Cancel { reason: "prank".into() })
        .then_error_eq(OrderError::Unauthorized("user:eve".into()));
    given::<Order>([created()])
        .when(OrderCommand::Cancel { reason: "anon".into() })
        .then_error_eq(OrderError::Unauthorized("anonymous".into()));
    let confirmed = [created(), OrderEvent::OrderConfirmed { payment_id: "p".into() }];
    given::<Order>(confirmed.clone())
        .by(ann())
        .when(OrderCommand::Ship { tracking: "t".into() })
        .then_error(|e| matches!(e, OrderError::Unauthorized(_)));
    given::<Order>(confirmed)
        .by(CommandContext::actor("service", "fulfilment"))
        .when(OrderCommand::Ship { tracking: "t".into() })
        .then([OrderEvent::OrderShipped { tracking: "t".into() }]);
    given::<Order>([created()])
        .by(CommandContext::actor("admin", "root"))
        .when(OrderCommand::Cancel { reason: "fraud".into() })
        .then([OrderEvent::OrderCancelled { reason: "fraud".into() }]);
}

#[test]
fn payments() {
    given::<Payment>([]).when(PaymentCommand::Request { order_id: "o".into(), amount_cents: 0 }).then_error_eq(PaymentError::NotPositive);
    given::<Payment>([]).when(PaymentCommand::Process { transaction_id: "t".into() }).then_error_eq(PaymentError::NotFound);
    let requested = PaymentEvent::PaymentRequested { order_id: "o".into(), amount_cents: 5 };
    given::<Payment>([requested.clone()])
        .when(PaymentCommand::Fail { reason: "declined".into() })
        .then([PaymentEvent::PaymentFailed { reason: "declined".into() }]);
    given::<Payment>([requested.clone(), PaymentEvent::PaymentFailed { reason: "x".into() }])
        .when(PaymentCommand::Process { transaction_id: "t".into() })
        .then_error_eq(PaymentError::AlreadyDone(PaymentStatus::Failed));
    given::<Payment>([requested, PaymentEvent::PaymentProcessed { transaction_id: "t".into() }])
        .when(PaymentCommand::Refund)
        .then([PaymentEvent::PaymentRefunded { amount_cents: 5 }]);
}

#[test]
fn inventory_reservations() {
    let stock = InventoryEvent::StockAdded { quantity: 3 };
    given::<Inventory>([stock.clone()])
        .when(InventoryCommand::Reserve { order_id: "o-1".into(), quantity: 4 })
        .then_error_eq(InventoryError::Insufficient { available: 3, requested: 4 });
    let reserved = InventoryEvent::InventoryReserved { order_id: "o-1".into(), quantity: 2 };
    let state = given::<Inventory>([stock.clone()])
        .when(InventoryCommand::Reserve { order_id: "o-1".into(), quantity: 2 })
        .then([reserved.clone()]);
    assert_eq!(state.available(), 1);
    given::<Inventory>([stock.clone(), reserved.clone()])
        .when(InventoryCommand::Reserve { order_id: "o-2".into(), quantity: 2 })
        .then_error_eq(InventoryError::Insufficient { available: 1, requested: 2 });
    given::<Inventory>([stock.clone(), reserved.clone()])
        .when(InventoryCommand::Release { order_id: "o-1".into() })
        .then([InventoryEvent::InventoryReleased { order_id: "o-1".into(), quantity: 2 }]);
    given::<Inventory>([stock])
        .when(InventoryCommand::Release { order_id: "o-9".into() })
        .then_error_eq(InventoryError::NoReservation("o-9".into()));
}

#[test]
#[should_panic(expected = "expected events")]
fn the_kit_reports_a_wrong_expectation() {
    given::<Payment>([]).when(PaymentCommand::Request { order_id: "o".into(), amount_cents: 5 }).then([]);
}
