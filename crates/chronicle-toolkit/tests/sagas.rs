//! Sagas: the checkout saga of the orders example through the kit (happy
//! path, compensation, timeout), and through the runner on a real store,
//! including restarts mid-flow with commands and timeouts pending.

#[path = "../examples/orders/checkout.rs"]
mod checkout;
#[path = "../examples/orders/domain.rs"]
mod domain;

use checkout::*;
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId, async_trait};
use chronicle_memory::MemoryStore;
use chronicle_toolkit::{
    CommandBus, CommandContext, DomainEvent, Repository, given_saga,
    saga::{CommandFailure, CommandSender, Reaction, Saga, SagaRunner},
};
use domain::*;
use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

fn pears(n: u32) -> Vec<Item> {
    vec![Item { sku: "pear".into(), quantity: n, price_cents: 80 }]
}

fn started() -> CheckoutEvent {
    CheckoutEvent::CheckoutStarted { order_id: "o-1".into(), items: pears(2), amount_cents: 160 }
}

fn compensation(reason: &str) -> (Vec<CheckoutEvent>, Vec<CheckoutCommand>) {
    (
        vec![CheckoutEvent::CheckoutCancelled { reason: reason.into() }],
        vec![
            CheckoutCommand::Release { order_id: "o-1".into(), sku: "pear".into() },
            CheckoutCommand::CancelOrder { order_id: "o-1".into(), reason: reason.into() },
        ],
    )
}

#[test]
fn checkout_happy_path_through_the_kit() {
    let state = given_saga::<Checkout>("o-1", [])
        .when(CheckoutInput::OrderCreated { items: pears(2), total_cents: 160 })
        .expect_timeouts(["payment"])
        .then(
            [started()],
            [
                CheckoutCommand::Reserve { order_id: "o-1".into(), sku: "pear".into(), quantity: 2 },
                CheckoutCommand::RequestPayment { order_id: "o-1".into(), amount_cents: 160 },
            ],
        );
    assert_eq!(state.status, CheckoutStatus::AwaitingPayment);
    let done = given_saga::<Checkout>("o-1", [started()])
        .when(CheckoutInput::PaymentProcessed { transaction_id: "tx".into() })
        .expect_cancelled(["payment"])
        .then(
            [CheckoutEvent::CheckoutCompleted { transaction_id: "tx".into() }],
            [
                CheckoutCommand::ConfirmOrder { order_id: "o-1".into() },
                CheckoutCommand::Allocate { order_id: "o-1".into(), sku: "pear".into() },
            ],
        );
    assert!(done.is_complete());
    // A finished checkout ignores late news.
    given_saga::<Checkout>("o-1", [started(), CheckoutEvent::CheckoutCompleted { transaction_id: "tx".into() }])
        .when(CheckoutInput::PaymentFailed { reason: "late".into() })
        .then_nothing();
}

#[test]
fn checkout_compensates_through_the_kit() {
    let (events, commands) = compensation("payment failed: card declined");
    let outcome = given_saga::<Checkout>("o-1", [started()]).when(CheckoutInput::PaymentFailed { reason: "card declined".into() });
    assert!(outcome.reaction().abort_pending);
    assert_eq!(outcome.expect_cancelled(["payment"]).then(events, commands).status, CheckoutStatus::Cancelled);

    let (events, commands) = compensation("payment timed out");
    given_saga::<Checkout>("o-1", [started()]).when_timeout("payment").then(events, commands);

    let reserve = CheckoutCommand::Reserve { order_id: "o-1".into(), sku: "pear".into(), quantity: 2 };
    let (events, commands) = compensation("cannot reserve pear: out of stock");
    let outcome = given_saga::<Checkout>("o-1", [started()]).when_command_failed(reserve, "out of stock");
    assert!(outcome.reaction().abort_pending, "the payment request still queued must not be sent");
    outcome.then(events, commands);

    // Undoing what was never done needs no further compensation.
    let release = CheckoutCommand::Release { order_id: "o-1".into(), sku: "pear".into() };
    given_saga::<Checkout>("o-1", [started()]).when_command_failed(release, "no reservation").then_nothing();
}

/// Sends through the bus, logs every attempt, and reports
/// `RequestPayment` unavailable while `payments_down` is set.
#[derive(Clone)]
struct Gateway {
    bus: Arc<CommandBus>,
    payments_down: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<(CheckoutCommand, bool)>>>,
}

#[async_trait]
impl CommandSender<CheckoutCommand> for Gateway {
    async fn send(&self, command: &CheckoutCommand, ctx: &CommandContext) -> Result<(), CommandFailure> {
        let down = matches!(command, CheckoutCommand::RequestPayment { .. }) && self.payments_down.load(Ordering::SeqCst);
        let result = if down {
            Err(CommandFailure::Unavailable("payments down".into()))
        } else {
            BusSender(self.bus.clone()).send(command, ctx).await
        };
        self.sent.lock().unwrap().push((command.clone(), result.is_ok()));
        result
    }
}

struct Shop {
    store: Arc<dyn EventStore>,
    orders: Repository<Order>,
    payments: Repository<Payment>,
    stock: Repository<Inventory>,
    gateway: Gateway,
}

fn shop() -> Shop {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let (orders, payments, stock) = (Repository::new(store.clone()), Repository::new(store.clone()), Repository::new(store.clone()));
    let bus = Arc::new(CommandBus::new().register(orders.clone()).register(payments.clone()).register(stock.clone()));
    let gateway = Gateway { bus, payments_down: Arc::new(AtomicBool::new(false)), sent: Arc::default() };
    Shop { store, orders, payments, stock, gateway }
}

impl Shop {
    fn saga(&self) -> SagaRunner<Checkout> {
        SagaRunner::new(self.store.clone(), self.gateway.clone()).with_retry_delay(Duration::from_millis(20))
    }

    async fn order(&self, id: &str, items: Vec<Item>) {
        let create = OrderCommand::Create { customer_id: "ann".into(), items, shipping_address: "x".into() };
        self.orders.execute(id, create, &CommandContext::actor("user", "ann")).await.unwrap();
    }

    fn attempts(&self, f: impl Fn(&CheckoutCommand) -> bool) -> (usize, usize) {
        let sent = self.gateway.sent.lock().unwrap();
        let matching: Vec<_> = sent.iter().filter(|(c, _)| f(c)).collect();
        (matching.len(), matching.iter().filter(|(_, ok)| *ok).count())
    }
}

async fn until<Fut: Future<Output = bool>>(what: &str, check: impl Fn() -> Fut) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn runner_drives_the_happy_path_and_compensation() {
    let shop = shop();
    let service = CommandContext::actor("service", "shop");
    shop.stock.execute("pear", InventoryCommand::AddStock { quantity: 3 }, &service).await.unwrap();
    let saga = shop.saga().start().await.unwrap();

    shop.order("o-1", pears(2)).await;
    until("payment requested", || async { shop.payments.load("o-1").await.unwrap().state.status == PaymentStatus::Requested }).await;
    shop.payments.execute("o-1", PaymentCommand::Process { transaction_id: "tx".into() }, &service).await.unwrap();
    until("order confirmed", || async { shop.orders.load("o-1").await.unwrap().state.status == OrderStatus::Confirmed }).await;
    until("pears allocated", || async { shop.stock.load("pear").await.unwrap().state.on_hand == 1 }).await;
    assert_eq!(saga.instance("o-1").await.unwrap().status, CheckoutStatus::Completed);

    // Two pears wanted, one left: the reservation is refused, the payment never requested, the order cancelled.
    shop.order("o-2", pears(2)).await;
    until("order o-2 cancelled", || async { shop.orders.load("o-2").await.unwrap().state.status == OrderStatus::Cancelled }).await;
    let o2 = saga.instance("o-2").await.unwrap();
    assert_eq!(o2.status, CheckoutStatus::Cancelled);
    assert!(o2.reason.unwrap().starts_with("cannot reserve pear"));
    assert_eq!(shop.payments.load("o-2").await.unwrap().state.status, PaymentStatus::New);
    assert_eq!(shop.attempts(|c| matches!(c, CheckoutCommand::RequestPayment { order_id, .. } if order_id == "o-2")), (0, 0));
    assert_eq!(shop.stock.load("pear").await.unwrap().state.available(), 1);

    // The payment fails: release and cancel.
    shop.order("o-3", pears(1)).await;
    until("payment o-3 requested", || async { shop.payments.load("o-3").await.unwrap().state.status == PaymentStatus::Requested }).await;
    assert_eq!(shop.stock.load("pear").await.unwrap().state.available(), 0);
    shop.payments.execute("o-3", PaymentCommand::Fail { reason: "declined".into() }, &service).await.unwrap();
    until("order o-3 cancelled", || async { shop.orders.load("o-3").await.unwrap().state.status == OrderStatus::Cancelled }).await;
    until("pear released", || async { shop.stock.load("pear").await.unwrap().state.available() == 1 }).await;
    assert_eq!(saga.projection().state().parked, 0);
    saga.stop().await.unwrap();
}

#[tokio::test]
async fn restarting_mid_flow_sends_each_pending_command_once() {
    let shop = shop();
    let service = CommandContext::actor("service", "shop");
    shop.stock.execute("pear", InventoryCommand::AddStock { quantity: 5 }, &service).await.unwrap();
    shop.gateway.payments_down.store(true, Ordering::SeqCst);
    let saga = shop.saga().start().await.unwrap();
    shop.order("o-1", pears(2)).await;
    until("pears reserved", || async { shop.stock.load("pear").await.unwrap().state.available() == 3 }).await;
    until("payment attempted twice", || async { shop.attempts(|c| matches!(c, CheckoutCommand::RequestPayment { .. })).0 >= 2 }).await;
    saga.abort(); // crash with the payment request still in the outbox

    shop.gateway.payments_down.store(false, Ordering::SeqCst);
    let saga = shop.saga().start().await.unwrap();
    until("payment requested", || async { shop.payments.load("o-1").await.unwrap().state.status == PaymentStatus::Requested }).await;
    shop.payments.execute("o-1", PaymentCommand::Process { transaction_id: "tx".into() }, &service).await.unwrap();
    until("order confirmed", || async { shop.orders.load("o-1").await.unwrap().state.status == OrderStatus::Confirmed }).await;
    saga.stop().await.unwrap();

    // The reservation was sent once (not again after the restart), the payment request succeeded once.
    assert_eq!(shop.attempts(|c| matches!(c, CheckoutCommand::Reserve { .. })), (1, 1));
    assert_eq!(shop.attempts(|c| matches!(c, CheckoutCommand::RequestPayment { .. })).1, 1);
    assert_eq!(shop.attempts(|c| matches!(c, CheckoutCommand::ConfirmOrder { .. })), (1, 1));

    // A third run re-reads the same inputs from its checkpoint and decides nothing twice.
    let saga = shop.saga().start().await.unwrap();
    let stream = StreamId::new("checkout-o-1").unwrap();
    let before = shop.store.stream_info(&stream).await.unwrap().current_version();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(shop.store.stream_info(&stream).await.unwrap().current_version(), before);
    assert_eq!(saga.instance("o-1").await.unwrap().status, CheckoutStatus::Completed);
    saga.stop().await.unwrap();
}

// ------------------------------------------------- timeouts across a restart

#[derive(Clone, Debug, Default)]
struct Reminder {
    reminded: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum SignUp {
    SignedUp { user: String },
    Activated,
}
impl DomainEvent for SignUp {}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum ReminderEvent {
    Waiting,
    Reminded,
}
impl DomainEvent for ReminderEvent {}

impl Saga for Reminder {
    type Input = SignUp;
    type Event = ReminderEvent;
    type Command = String;
    const NAME: &'static str = "reminder";
    const INPUT_TYPES: &'static [&'static str] = &["SignedUp", "Activated"];

    fn instance(_: &SignUp, event: &RecordedEvent) -> Option<String> {
        event.stream_id.as_str().strip_prefix("user-").map(str::to_owned)
    }
    fn react(&self, _: &str, input: &SignUp) -> Reaction<Self> {
        match input {
            SignUp::SignedUp { .. } => Reaction::none().record(ReminderEvent::Waiting).timeout("nudge", Duration::from_millis(300)),
            SignUp::Activated => Reaction::none().cancel("nudge"),
        }
    }
    fn on_timeout(&self, _: &str) -> Reaction<Self> {
        Reaction::none().record(ReminderEvent::Reminded).send("nudge".into())
    }
    fn apply(&mut self, event: &ReminderEvent) {
        self.reminded |= *event == ReminderEvent::Reminded;
    }
}

#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl CommandSender<String> for Outbox {
    async fn send(&self, command: &String, ctx: &CommandContext) -> Result<(), CommandFailure> {
        self.0.lock().unwrap().push(format!("{command} ({})", ctx.correlation_id.as_deref().unwrap_or("-")));
        Ok(())
    }
}

async fn sign_up(store: &Arc<dyn EventStore>, user: &str, event: &SignUp) {
    let (ty, data) = chronicle_toolkit::encode_event(event).unwrap();
    let e =
        NewEvent::raw(ty, data.bytes().clone()).with_metadata(&serde_json::json!({"correlation_id": format!("signup-{user}")})).unwrap();
    store.append(&StreamId::new(format!("user-{user}")).unwrap(), ExpectedVersion::Any, vec![e]).await.unwrap();
}

#[tokio::test]
async fn timeouts_survive_a_restart_and_can_be_cancelled() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let sent = Outbox::default();
    let saga = SagaRunner::<Reminder>::new(store.clone(), sent.clone()).start().await.unwrap();
    sign_up(&store, "ann", &SignUp::SignedUp { user: "ann".into() }).await;
    sign_up(&store, "bob", &SignUp::SignedUp { user: "bob".into() }).await;
    let waiting = StreamId::new("reminder-bob").unwrap();
    until("bob's timeout recorded", || async { store.stream_info(&waiting).await.unwrap().current_version().is_some() }).await;
    sign_up(&store, "ann", &SignUp::Activated).await;
    until("ann's timeout cancelled", || async {
        store.stream_info(&StreamId::new("reminder-ann").unwrap()).await.unwrap().current_version() == Some(3)
    })
    .await;
    saga.abort(); // crash before the timeouts expire

    let saga = SagaRunner::<Reminder>::new(store.clone(), sent.clone()).start().await.unwrap();
    until("bob nudged", || async { !sent.0.lock().unwrap().is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(400)).await; // ann's cancelled timeout would have fired by now
    assert_eq!(*sent.0.lock().unwrap(), vec!["nudge (signup-bob)".to_owned()]);
    assert!(saga.instance("bob").await.unwrap().reminded);
    assert!(!saga.instance("ann").await.unwrap().reminded);
    saga.stop().await.unwrap();
}
