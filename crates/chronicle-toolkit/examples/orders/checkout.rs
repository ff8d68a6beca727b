//! The checkout saga: an order is created → reserve its items and request
//! the payment → payment processed: confirm the order and allocate the
//! stock; payment failed, timed out, or a reservation refused: release the
//! stock and cancel the order (compensation).
#![allow(dead_code, unreachable_pub, missing_docs, clippy::enum_variant_names)]

use crate::domain::{InventoryCommand, Item, OrderCommand, PaymentCommand};
use chronicle_core::RecordedEvent;
use chronicle_toolkit::{
    CommandBus, CommandContext, DomainEvent,
    saga::{CommandFailure, CommandSender, Reaction, Saga},
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a checkout waits for the payment before compensating.
pub const PAYMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum CheckoutStatus {
    #[default]
    New,
    AwaitingPayment,
    Completed,
    Cancelled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkout {
    pub status: CheckoutStatus,
    pub order_id: String,
    pub items: Vec<Item>,
    pub reason: Option<String>,
}

/// The events it reacts to (stored types of the order and payment streams;
/// only the fields it reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CheckoutInput {
    OrderCreated { items: Vec<Item>, total_cents: u64 },
    PaymentProcessed { transaction_id: String },
    PaymentFailed { reason: String },
}
impl DomainEvent for CheckoutInput {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CheckoutEvent {
    CheckoutStarted { order_id: String, items: Vec<Item>, amount_cents: u64 },
    CheckoutCompleted { transaction_id: String },
    CheckoutCancelled { reason: String },
}
impl DomainEvent for CheckoutEvent {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CheckoutCommand {
    Reserve { order_id: String, sku: String, quantity: u32 },
    RequestPayment { order_id: String, amount_cents: u64 },
    ConfirmOrder { order_id: String },
    Allocate { order_id: String, sku: String },
    Release { order_id: String, sku: String },
    CancelOrder { order_id: String, reason: String },
    RefundPayment { order_id: String },
}

impl Checkout {
    /// Release every item and cancel the order; nothing else still queued is sent.
    fn compensate(&self, reason: String) -> Reaction<Self> {
        let id = &self.order_id;
        let releases = self.items.iter().map(|i| CheckoutCommand::Release { order_id: id.clone(), sku: i.sku.clone() });
        let mut reaction =
            Reaction::none().record(CheckoutEvent::CheckoutCancelled { reason: reason.clone() }).cancel("payment").abort_pending();
        reaction.commands.extend(releases);
        reaction.send(CheckoutCommand::CancelOrder { order_id: id.clone(), reason })
    }
}

impl Saga for Checkout {
    type Input = CheckoutInput;
    type Event = CheckoutEvent;
    type Command = CheckoutCommand;
    const NAME: &'static str = "checkout";
    const INPUT_TYPES: &'static [&'static str] = &["OrderCreated", "PaymentProcessed", "PaymentFailed"];

    /// One checkout per order; the payment of order `o` is payment `o`.
    fn instance(_: &CheckoutInput, event: &RecordedEvent) -> Option<String> {
        let stream = event.stream_id.as_str();
        stream.strip_prefix("order-").or_else(|| stream.strip_prefix("payment-")).map(str::to_owned)
    }

    fn react(&self, order_id: &str, input: &CheckoutInput) -> Reaction<Self> {
        match (input, self.status) {
            (CheckoutInput::OrderCreated { items, total_cents }, CheckoutStatus::New) => {
                let id = order_id.to_owned();
                let mut reaction = Reaction::none()
                    .record(CheckoutEvent::CheckoutStarted { order_id: id.clone(), items: items.clone(), amount_cents: *total_cents })
                    .timeout("payment", PAYMENT_TIMEOUT);
                reaction.commands.extend(items.iter().map(|i| CheckoutCommand::Reserve {
                    order_id: id.clone(),
                    sku: i.sku.clone(),
                    quantity: i.quantity,
                }));
                reaction.send(CheckoutCommand::RequestPayment { order_id: id, amount_cents: *total_cents })
            }
            (CheckoutInput::PaymentProcessed { transaction_id }, CheckoutStatus::AwaitingPayment) => {
                let id = &self.order_id;
                let mut reaction = Reaction::none()
                    .record(CheckoutEvent::CheckoutCompleted { transaction_id: transaction_id.clone() })
                    .cancel("payment")
                    .send(CheckoutCommand::ConfirmOrder { order_id: id.clone() });
                reaction.commands.extend(self.items.iter().map(|i| CheckoutCommand::Allocate { order_id: id.clone(), sku: i.sku.clone() }));
                reaction
            }
            (CheckoutInput::PaymentFailed { reason }, CheckoutStatus::AwaitingPayment) => {
                self.compensate(format!("payment failed: {reason}"))
            }
            _ => Reaction::none(),
        }
    }

    fn on_timeout(&self, name: &str) -> Reaction<Self> {
        match (name, self.status) {
            ("payment", CheckoutStatus::AwaitingPayment) => self.compensate("payment timed out".into()),
            _ => Reaction::none(),
        }
    }

    fn on_command_failed(&self, command: &CheckoutCommand, error: &str) -> Reaction<Self> {
        match command {
            CheckoutCommand::Reserve { sku, .. } if self.status == CheckoutStatus::AwaitingPayment => {
                self.compensate(format!("cannot reserve {sku}: {error}"))
            }
            // The order was cancelled meanwhile: give the money back, free the stock.
            CheckoutCommand::ConfirmOrder { order_id } => {
                let mut reaction = Reaction::none().send(CheckoutCommand::RefundPayment { order_id: order_id.clone() });
                reaction
                    .commands
                    .extend(self.items.iter().map(|i| CheckoutCommand::Release { order_id: order_id.clone(), sku: i.sku.clone() }));
                reaction.abort_pending()
            }
            // Releasing what was never reserved, cancelling what is already cancelled: nothing to undo.
            _ => Reaction::none(),
        }
    }

    fn apply(&mut self, event: &CheckoutEvent) {
        match event {
            CheckoutEvent::CheckoutStarted { order_id, items, .. } => {
                (self.status, self.order_id, self.items) = (CheckoutStatus::AwaitingPayment, order_id.clone(), items.clone());
            }
            CheckoutEvent::CheckoutCompleted { .. } => self.status = CheckoutStatus::Completed,
            CheckoutEvent::CheckoutCancelled { reason } => (self.status, self.reason) = (CheckoutStatus::Cancelled, Some(reason.clone())),
        }
    }

    fn is_complete(&self) -> bool {
        matches!(self.status, CheckoutStatus::Completed | CheckoutStatus::Cancelled)
    }
}

/// Sends checkout commands through the command bus: the payment of order
/// `o` is payment `o`, stock is kept per SKU.
pub struct BusSender(pub std::sync::Arc<CommandBus>);

#[chronicle_core::async_trait]
impl CommandSender<CheckoutCommand> for BusSender {
    async fn send(&self, command: &CheckoutCommand, ctx: &CommandContext) -> Result<(), CommandFailure> {
        let bus = &self.0;
        let done = match command.clone() {
            CheckoutCommand::Reserve { order_id, sku, quantity } => {
                bus.dispatch(&sku, InventoryCommand::Reserve { order_id, quantity }, ctx).await
            }
            CheckoutCommand::RequestPayment { order_id, amount_cents } => {
                bus.dispatch(&order_id.clone(), PaymentCommand::Request { order_id, amount_cents }, ctx).await
            }
            CheckoutCommand::ConfirmOrder { order_id } => {
                bus.dispatch(&order_id.clone(), OrderCommand::Confirm { payment_id: order_id }, ctx).await
            }
            CheckoutCommand::Allocate { order_id, sku } => bus.dispatch(&sku, InventoryCommand::Allocate { order_id }, ctx).await,
            CheckoutCommand::Release { order_id, sku } => bus.dispatch(&sku, InventoryCommand::Release { order_id }, ctx).await,
            CheckoutCommand::CancelOrder { order_id, reason } => bus.dispatch(&order_id, OrderCommand::Cancel { reason }, ctx).await,
            CheckoutCommand::RefundPayment { order_id } => bus.dispatch(&order_id, PaymentCommand::Refund, ctx).await,
        };
        done.map(|_| ()).map_err(CommandFailure::from)
    }
}
