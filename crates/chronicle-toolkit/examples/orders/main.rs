//! The orders example (seed 004): orders, payments and inventory
//! reservation driven end to end on a fresh temporary file store (or the
//! backend named by `CHRONICLE_BACKEND`).
//!
//! Run from the repository root: `cargo run --release --example orders`.

mod checkout;
mod domain;
mod views;

use checkout::{BusSender, Checkout};
use chronicle::{Config, EventStore, FileStore, ReadAll, file_options};
use chronicle_toolkit::{CommandBus, CommandContext, ProjectionRunner, Repository, SagaRunner};
use domain::*;
use std::{future::Future, sync::Arc, time::Duration};

type Res = Result<(), Box<dyn std::error::Error>>;

async fn open_store() -> Result<(Arc<dyn EventStore>, String), Box<dyn std::error::Error>> {
    if std::env::var("CHRONICLE_BACKEND").is_ok_and(|b| !b.is_empty()) {
        let config = Config::load(None)?;
        let store = chronicle::open(&config).await?;
        return Ok((store, format!("the configured {} backend", config.backend)));
    }
    let file = FileStore::open_temporary(file_options(&Config::default()))?;
    let at = format!("a fresh file store in {}", file.dir().display());
    Ok((Arc::new(file), at))
}

/// Waits (up to 10 s) until `check` holds: the saga and projections run asynchronously.
async fn until<F, Fut>(what: &str, check: F) -> Res
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<bool, chronicle_toolkit::Error>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await? {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for: {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn item(sku: &str, quantity: u32, price_cents: u64) -> Item {
    Item { sku: sku.into(), quantity, price_cents }
}

#[tokio::main]
async fn main() -> Res {
    let (store, at) = open_store().await?;
    println!("orders example on {at}\n");
    let orders = Repository::<Order>::new(store.clone()).with_upcasters(order_upcasters());
    let payments = Repository::<Payment>::new(store.clone());
    let stock = Repository::<Inventory>::new(store.clone()).with_snapshot_every(100);
    let bus = Arc::new(CommandBus::new().register(orders.clone()).register(payments.clone()).register(stock.clone()));
    // Read models and the checkout saga follow the log in the background.
    let (summary, customers) = (Arc::new(views::order_summary()), Arc::new(views::customer_orders()));
    let runner = ProjectionRunner::new(store.clone());
    let (summary_run, customers_run) = (runner.start(summary.clone()), runner.start(customers.clone()));
    let saga = SagaRunner::<Checkout>::new(store.clone(), BusSender(bus.clone())).start().await?;
    let (ann, bob, eve) =
        (CommandContext::actor("user", "ann"), CommandContext::actor("user", "bob"), CommandContext::actor("user", "eve"));
    let shop = CommandContext::actor("service", "fulfilment");

    bus.dispatch("apple", InventoryCommand::AddStock { quantity: 10 }, &shop).await?;
    bus.dispatch("pear", InventoryCommand::AddStock { quantity: 2 }, &shop).await?;
    println!("stock: 10 apples, 2 pears");

    // 1. The happy path, driven by the checkout saga: ann orders; the saga reserves the
    //    apples and requests the payment; the gateway processes it; the saga confirms the
    //    order and allocates the stock; fulfilment ships.
    let checkout = ann.clone().correlated("checkout-1");
    let create =
        OrderCommand::Create { customer_id: "ann".into(), items: vec![item("apple", 3, 120)], shipping_address: "1 Main St".into() };
    bus.dispatch("o-1", create, &checkout).await?;
    until("payment o-1 requested", || async { Ok(payments.load("o-1").await?.state.status == PaymentStatus::Requested) }).await?;
    bus.dispatch("o-1", PaymentCommand::Process { transaction_id: "tx-981".into() }, &shop.clone().correlated("checkout-1")).await?;
    until("order o-1 confirmed", || async { Ok(orders.load("o-1").await?.state.status == OrderStatus::Confirmed) }).await?;
    until("apples allocated", || async { Ok(stock.load("apple").await?.state.on_hand == 7) }).await?;
    // Authorization against state and actor: eve may not cancel ann's order, ann may not ship it.
    for (who, command) in [(&eve, OrderCommand::Cancel { reason: "prank".into() }), (&ann, OrderCommand::Ship { tracking: "self".into() })]
    {
        match orders.execute("o-1", command, who).await {
            Err(e) if e.domain::<OrderError>().is_some_and(|e| matches!(e, OrderError::Unauthorized(_))) => println!("  refused: {e}"),
            other => return Err(format!("expected an authorization failure, got {other:?}").into()),
        }
    }
    bus.dispatch("o-1", OrderCommand::Ship { tracking: "DHL-42".into() }, &shop.clone().correlated("checkout-1")).await?;
    let o1 = orders.load("o-1").await?;
    println!("order o-1 by ann: {:?}, total {} cents {}, version {}", o1.state.status, o1.state.total_cents, o1.state.currency, o1.version);
    let trail = store.read_by_correlation("checkout-1").await?;
    println!(
        "  {} events correlated with checkout-1: {}",
        trail.len(),
        trail.iter().filter(|e| !e.event_type.starts_with('$')).map(|e| e.event_type.to_string()).collect::<Vec<_>>().join(" → ")
    );

    // 2. An invariant: not enough pears. The saga's reservation is refused; it compensates by cancelling the order.
    let create = OrderCommand::Create { customer_id: "bob".into(), items: vec![item("pear", 5, 80)], shipping_address: "2 Side St".into() };
    bus.dispatch("o-2", create, &bob).await?;
    until("order o-2 cancelled", || async { Ok(orders.load("o-2").await?.state.status == OrderStatus::Cancelled) }).await?;
    println!("order o-2 by bob (5 pears, 2 in stock): {}", saga.instance("o-2").await?.reason.unwrap_or_default());

    // 3. Payment fails: the saga compensates (releases the reservation, cancels the order).
    let create = OrderCommand::Create { customer_id: "bob".into(), items: vec![item("pear", 2, 80)], shipping_address: "2 Side St".into() };
    bus.dispatch("o-3", create, &bob).await?;
    until("payment o-3 requested", || async { Ok(payments.load("o-3").await?.state.status == PaymentStatus::Requested) }).await?;
    println!("order o-3 by bob: {} pears available while reserved", stock.load("pear").await?.state.available());
    bus.dispatch("o-3", PaymentCommand::Fail { reason: "card declined".into() }, &shop).await?;
    until("order o-3 cancelled", || async { Ok(orders.load("o-3").await?.state.status == OrderStatus::Cancelled) }).await?;
    until("pears released", || async { Ok(stock.load("pear").await?.state.available() == 2) }).await?;
    println!(
        "  {} → reservation released ({} pears available), order cancelled",
        saga.instance("o-3").await?.reason.unwrap_or_default(),
        stock.load("pear").await?.state.available()
    );

    // 4. Invariant on the state machine: a shipped order cannot be cancelled.
    match orders.execute("o-1", OrderCommand::Cancel { reason: "too late".into() }, &ann).await {
        Err(e) => println!("ann cancelling the shipped o-1: {e}"),
        Ok(_) => return Err("a shipped order must not be cancelled".into()),
    }

    // 5. Concurrency: two reservations race for the last 7 apples; the loser retries against fresh state and is refused.
    let (a, b) = (stock.clone(), stock.clone());
    let (ra, rb) = tokio::join!(
        a.execute("apple", InventoryCommand::Reserve { order_id: "o-4".into(), quantity: 5 }, &ann),
        b.execute("apple", InventoryCommand::Reserve { order_id: "o-5".into(), quantity: 5 }, &bob)
    );
    let winners = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    println!("two concurrent reservations of 5 of 7 apples: {winners} succeeded, the other was refused after re-checking");
    if winners != 1 {
        return Err("exactly one reservation must win".into());
    }

    // 6. Temporal load and snapshots.
    let before = orders.load_at_version("o-1", 1).await?;
    println!("o-1 as of version 1: {:?}", before.state.status);
    for _ in 0..250 {
        stock.execute("banana", InventoryCommand::AddStock { quantity: 1 }, &shop).await?;
    }
    let bananas = stock.load("banana").await?;
    let snapshot = store.load_snapshot(&stock.stream("banana")?).await?.map(|s| s.version);
    println!("250 banana deliveries: {} on hand, latest snapshot at version {:?}", bananas.state.on_hand, snapshot);

    // 7. The read models, fed by the projections.
    until("read models caught up", || async {
        Ok(summary.model().get("o-3").is_some_and(|o| o.status == "cancelled")
            && customers.model().customers.get("bob").is_some_and(|c| c.open == 0))
    })
    .await?;
    println!("\norder-summary:");
    for (id, o) in summary.model() {
        println!(
            "  {id}: {} {:<9} {} items, {} cents {}, payment {}",
            o.customer_id, o.status, o.items, o.total_cents, o.currency, o.payment
        );
    }
    println!("customer-orders:");
    for (id, c) in customers.model().customers {
        println!("  {id}: orders {:?}, {} open, spent {} cents", c.orders, c.open, c.spent_cents);
    }
    for state in [summary_run.state(), customers_run.state(), saga.projection().state()] {
        println!("  projection {}: {:?}, {} applied, {} parked", state.name, state.status, state.applied, state.parked);
    }
    saga.stop().await?;
    summary_run.stop().await?;
    customers_run.stop().await?;

    let head = store.read_all(&ReadAll::backward().limit(1)).await?.head;
    println!(
        "\n{head} events in the log.\n{}",
        stock.metrics().render("inventory").lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
    );
    Ok(())
}
