//! The orders example (seed 004): orders, payments and inventory
//! reservation driven end to end on a fresh temporary file store (or the
//! backend named by `CHRONICLE_BACKEND`).
//!
//! Run from the repository root: `cargo run --release --example orders`.

mod domain;

use chronicle::{Config, EventStore, FileStore, ReadAll, file_options};
use chronicle_toolkit::{CommandBus, CommandContext, Repository};
use domain::*;
use std::sync::Arc;

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
    let bus = CommandBus::new().register(orders.clone()).register(payments.clone()).register(stock.clone());
    let (ann, bob, eve) =
        (CommandContext::actor("user", "ann"), CommandContext::actor("user", "bob"), CommandContext::actor("user", "eve"));
    let shop = CommandContext::actor("service", "fulfilment");

    bus.dispatch("apple", InventoryCommand::AddStock { quantity: 10 }, &shop).await?;
    bus.dispatch("pear", InventoryCommand::AddStock { quantity: 2 }, &shop).await?;
    println!("stock: 10 apples, 2 pears");

    // 1. The happy path: order, reserve, pay, confirm, ship.
    let checkout = ann.clone().correlated("checkout-1");
    let create =
        OrderCommand::Create { customer_id: "ann".into(), items: vec![item("apple", 3, 120)], shipping_address: "1 Main St".into() };
    bus.dispatch("o-1", create, &checkout).await?;
    bus.dispatch("apple", InventoryCommand::Reserve { order_id: "o-1".into(), quantity: 3 }, &checkout).await?;
    bus.dispatch("p-1", PaymentCommand::Request { order_id: "o-1".into(), amount_cents: 360 }, &checkout).await?;
    bus.dispatch("p-1", PaymentCommand::Process { transaction_id: "tx-981".into() }, &checkout).await?;
    bus.dispatch("o-1", OrderCommand::Confirm { payment_id: "p-1".into() }, &checkout).await?;
    // Authorization against state and actor: eve may not cancel ann's order, ann may not ship it.
    for (who, command) in [(&eve, OrderCommand::Cancel { reason: "prank".into() }), (&ann, OrderCommand::Ship { tracking: "self".into() })]
    {
        match orders.execute("o-1", command, who).await {
            Err(e) if e.domain::<OrderError>().is_some_and(|e| matches!(e, OrderError::Unauthorized(_))) => println!("  refused: {e}"),
            other => return Err(format!("expected an authorization failure, got {other:?}").into()),
        }
    }
    bus.dispatch("apple", InventoryCommand::Allocate { order_id: "o-1".into() }, &checkout).await?;
    bus.dispatch("o-1", OrderCommand::Ship { tracking: "DHL-42".into() }, &shop.clone().correlated("checkout-1")).await?;
    let o1 = orders.load("o-1").await?;
    println!("order o-1 by ann: {:?}, total {} cents {}, version {}", o1.state.status, o1.state.total_cents, o1.state.currency, o1.version);
    let trail = store.read_by_correlation("checkout-1").await?;
    println!(
        "  {} events correlated with checkout-1: {}",
        trail.len(),
        trail.iter().map(|e| e.event_type.to_string()).collect::<Vec<_>>().join(" → ")
    );

    // 2. An invariant: not enough pears.
    let create = OrderCommand::Create { customer_id: "bob".into(), items: vec![item("pear", 5, 80)], shipping_address: "2 Side St".into() };
    bus.dispatch("o-2", create, &bob).await?;
    match bus.dispatch("pear", InventoryCommand::Reserve { order_id: "o-2".into(), quantity: 5 }, &bob).await {
        Err(e) => {
            println!("order o-2 by bob: reservation rejected: {}", e.domain::<InventoryError>().map_or(e.to_string(), ToString::to_string))
        }
        Ok(_) => return Err("reserving 5 of 2 pears must fail".into()),
    }
    bus.dispatch("o-2", OrderCommand::Cancel { reason: "out of stock".into() }, &bob).await?;
    println!("  o-2 cancelled by bob");

    // 3. Payment fails: compensate (release the reservation, cancel the order).
    let create = OrderCommand::Create { customer_id: "bob".into(), items: vec![item("pear", 2, 80)], shipping_address: "2 Side St".into() };
    bus.dispatch("o-3", create, &bob).await?;
    bus.dispatch("pear", InventoryCommand::Reserve { order_id: "o-3".into(), quantity: 2 }, &bob).await?;
    bus.dispatch("p-3", PaymentCommand::Request { order_id: "o-3".into(), amount_cents: 160 }, &bob).await?;
    bus.dispatch("p-3", PaymentCommand::Fail { reason: "card declined".into() }, &shop).await?;
    bus.dispatch("pear", InventoryCommand::Release { order_id: "o-3".into() }, &shop).await?;
    bus.dispatch("o-3", OrderCommand::Cancel { reason: "payment failed".into() }, &shop).await?;
    println!(
        "order o-3 by bob: payment failed → reservation released ({} pears available), order cancelled",
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

    let head = store.read_all(&ReadAll::backward().limit(1)).await?.head;
    println!(
        "\n{head} events in the log.\n{}",
        stock.metrics().render("inventory").lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
    );
    Ok(())
}
