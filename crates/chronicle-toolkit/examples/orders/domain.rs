//! The orders / payments / inventory domain of seed 004.
// Variant names are the stored event types (seed 004 names them `OrderCreated`, …).
#![allow(dead_code, unreachable_pub, missing_docs, clippy::enum_variant_names)]

use chronicle_toolkit::{Aggregate, CommandContext, DomainEvent, Upcasters};
use serde::{Deserialize, Serialize};

/// A line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
    pub price_cents: u64,
}

fn is_admin(ctx: &CommandContext) -> bool {
    ctx.actor.as_ref().is_some_and(|a| a.kind == "admin")
}

fn is_service(ctx: &CommandContext) -> bool {
    ctx.actor.as_ref().is_some_and(|a| a.kind == "service" || a.kind == "saga")
}

// ---------------------------------------------------------------- orders

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum OrderStatus {
    #[default]
    New,
    Created,
    Confirmed,
    Shipped,
    Cancelled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub status: OrderStatus,
    pub customer_id: String,
    pub items: Vec<Item>,
    pub total_cents: u64,
    pub currency: String,
    pub payment_id: Option<String>,
}

#[derive(Debug)]
pub enum OrderCommand {
    Create { customer_id: String, items: Vec<Item>, shipping_address: String },
    Confirm { payment_id: String },
    Ship { tracking: String },
    Cancel { reason: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// v3: `currency` (v2) and `tax_cents` (v3) were added; see [`order_upcasters`].
    OrderCreated {
        customer_id: String,
        items: Vec<Item>,
        total_cents: u64,
        shipping_address: String,
        currency: String,
        tax_cents: u64,
    },
    OrderConfirmed {
        payment_id: String,
    },
    OrderShipped {
        tracking: String,
    },
    OrderCancelled {
        reason: String,
    },
}

impl DomainEvent for OrderEvent {
    fn schema_version(event_type: &str) -> u32 {
        if event_type == "OrderCreated" { 3 } else { 1 }
    }
}

/// OrderCreated v1 → v2 (currency, default USD) → v3 (tax, default 0).
pub fn order_upcasters() -> Upcasters {
    Upcasters::new()
        .register("OrderCreated", 1, 2, |mut d| {
            d["currency"] = "USD".into();
            Ok(d)
        })
        .register("OrderCreated", 2, 3, |mut d| {
            d["tax_cents"] = 0.into();
            Ok(d)
        })
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("order already exists")]
    AlreadyExists,
    #[error("an order needs at least one item with a positive quantity")]
    NoItems,
    #[error("no such order")]
    NotFound,
    #[error("cannot {action} an order that is {status:?}")]
    InvalidTransition { status: OrderStatus, action: &'static str },
    #[error("{0} is not allowed to do this")]
    Unauthorized(String),
}

impl Aggregate for Order {
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    const CATEGORY: &'static str = "order";

    fn handle(&self, command: &OrderCommand, ctx: &CommandContext) -> Result<Vec<OrderEvent>, OrderError> {
        let who = || ctx.actor.as_ref().map_or("anonymous".to_owned(), |a| format!("{}:{}", a.kind, a.id));
        let transition = |allowed: &[OrderStatus], action| {
            if self.status == OrderStatus::New {
                return Err(OrderError::NotFound);
            }
            if allowed.contains(&self.status) { Ok(()) } else { Err(OrderError::InvalidTransition { status: self.status, action }) }
        };
        match command {
            OrderCommand::Create { customer_id, items, shipping_address } => {
                if self.status != OrderStatus::New {
                    return Err(OrderError::AlreadyExists);
                }
                if !(ctx.is("user", customer_id) || is_admin(ctx)) {
                    return Err(OrderError::Unauthorized(who()));
                }
                if items.is_empty() || items.iter().any(|i| i.quantity == 0) {
                    return Err(OrderError::NoItems);
                }
                let total_cents = items.iter().map(|i| i.price_cents * u64::from(i.quantity)).sum();
                Ok(vec![OrderEvent::OrderCreated {
                    customer_id: customer_id.clone(),
                    items: items.clone(),
                    total_cents,
                    shipping_address: shipping_address.clone(),
                    currency: "EUR".into(),
                    tax_cents: total_cents / 5,
                }])
            }
            OrderCommand::Confirm { payment_id } => {
                transition(&[OrderStatus::Created], "confirm")?;
                Ok(vec![OrderEvent::OrderConfirmed { payment_id: payment_id.clone() }])
            }
            OrderCommand::Ship { tracking } => {
                transition(&[OrderStatus::Confirmed], "ship")?;
                if !(is_service(ctx) || is_admin(ctx)) {
                    return Err(OrderError::Unauthorized(who()));
                }
                Ok(vec![OrderEvent::OrderShipped { tracking: tracking.clone() }])
            }
            OrderCommand::Cancel { reason } => {
                transition(&[OrderStatus::Created, OrderStatus::Confirmed], "cancel")?;
                if !(ctx.is("user", &self.customer_id) || is_admin(ctx) || is_service(ctx)) {
                    return Err(OrderError::Unauthorized(who()));
                }
                Ok(vec![OrderEvent::OrderCancelled { reason: reason.clone() }])
            }
        }
    }

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::OrderCreated { customer_id, items, total_cents, currency, .. } => {
                self.status = OrderStatus::Created;
                self.customer_id = customer_id.clone();
                self.items = items.clone();
                self.total_cents = *total_cents;
                self.currency = currency.clone();
            }
            OrderEvent::OrderConfirmed { payment_id } => {
                self.status = OrderStatus::Confirmed;
                self.payment_id = Some(payment_id.clone());
            }
            OrderEvent::OrderShipped { .. } => self.status = OrderStatus::Shipped,
            OrderEvent::OrderCancelled { .. } => self.status = OrderStatus::Cancelled,
        }
    }
}

// -------------------------------------------------------------- payments

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum PaymentStatus {
    #[default]
    New,
    Requested,
    Processed,
    Failed,
    Refunded,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub status: PaymentStatus,
    pub order_id: String,
    pub amount_cents: u64,
}

#[derive(Debug)]
pub enum PaymentCommand {
    Request { order_id: String, amount_cents: u64 },
    Process { transaction_id: String },
    Fail { reason: String },
    Refund,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PaymentEvent {
    PaymentRequested { order_id: String, amount_cents: u64 },
    PaymentProcessed { transaction_id: String },
    PaymentFailed { reason: String },
    PaymentRefunded { amount_cents: u64 },
}

impl DomainEvent for PaymentEvent {}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum PaymentError {
    #[error("payment amount must be positive")]
    NotPositive,
    #[error("payment already {0:?}")]
    AlreadyDone(PaymentStatus),
    #[error("no such payment")]
    NotFound,
}

impl Aggregate for Payment {
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = PaymentError;
    const CATEGORY: &'static str = "payment";

    fn handle(&self, command: &PaymentCommand, _ctx: &CommandContext) -> Result<Vec<PaymentEvent>, PaymentError> {
        match (command, self.status) {
            (PaymentCommand::Request { .. }, s) if s != PaymentStatus::New => Err(PaymentError::AlreadyDone(s)),
            (PaymentCommand::Request { amount_cents: 0, .. }, _) => Err(PaymentError::NotPositive),
            (PaymentCommand::Request { order_id, amount_cents }, _) => {
                Ok(vec![PaymentEvent::PaymentRequested { order_id: order_id.clone(), amount_cents: *amount_cents }])
            }
            (_, PaymentStatus::New) => Err(PaymentError::NotFound),
            (PaymentCommand::Process { transaction_id }, PaymentStatus::Requested) => {
                Ok(vec![PaymentEvent::PaymentProcessed { transaction_id: transaction_id.clone() }])
            }
            (PaymentCommand::Fail { reason }, PaymentStatus::Requested) => Ok(vec![PaymentEvent::PaymentFailed { reason: reason.clone() }]),
            (PaymentCommand::Refund, PaymentStatus::Processed) => {
                Ok(vec![PaymentEvent::PaymentRefunded { amount_cents: self.amount_cents }])
            }
            (_, s) => Err(PaymentError::AlreadyDone(s)),
        }
    }

    fn apply(&mut self, event: &PaymentEvent) {
        match event {
            PaymentEvent::PaymentRequested { order_id, amount_cents } => {
                (self.status, self.order_id, self.amount_cents) = (PaymentStatus::Requested, order_id.clone(), *amount_cents);
            }
            PaymentEvent::PaymentProcessed { .. } => self.status = PaymentStatus::Processed,
            PaymentEvent::PaymentFailed { .. } => self.status = PaymentStatus::Failed,
            PaymentEvent::PaymentRefunded { .. } => self.status = PaymentStatus::Refunded,
        }
    }
}

// ------------------------------------------------------------- inventory

/// Stock of one SKU, with reservations per order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub on_hand: u32,
    pub reserved: std::collections::BTreeMap<String, u32>,
}

impl Inventory {
    pub fn available(&self) -> u32 {
        self.on_hand - self.reserved.values().sum::<u32>()
    }
}

#[derive(Debug)]
pub enum InventoryCommand {
    AddStock { quantity: u32 },
    Reserve { order_id: String, quantity: u32 },
    Release { order_id: String },
    Allocate { order_id: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InventoryEvent {
    StockAdded { quantity: u32 },
    InventoryReserved { order_id: String, quantity: u32 },
    InventoryReleased { order_id: String, quantity: u32 },
    InventoryAllocated { order_id: String, quantity: u32 },
}

impl DomainEvent for InventoryEvent {}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum InventoryError {
    #[error("only {available} available, {requested} requested")]
    Insufficient { available: u32, requested: u32 },
    #[error("order {0} holds no reservation")]
    NoReservation(String),
    #[error("order {0} already holds a reservation")]
    AlreadyReserved(String),
    #[error("quantity must be positive")]
    NotPositive,
}

impl Aggregate for Inventory {
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Error = InventoryError;
    const CATEGORY: &'static str = "inventory";

    fn handle(&self, command: &InventoryCommand, _ctx: &CommandContext) -> Result<Vec<InventoryEvent>, InventoryError> {
        match command {
            InventoryCommand::AddStock { quantity: 0 } | InventoryCommand::Reserve { quantity: 0, .. } => Err(InventoryError::NotPositive),
            InventoryCommand::AddStock { quantity } => Ok(vec![InventoryEvent::StockAdded { quantity: *quantity }]),
            InventoryCommand::Reserve { order_id, .. } if self.reserved.contains_key(order_id) => {
                Err(InventoryError::AlreadyReserved(order_id.clone()))
            }
            InventoryCommand::Reserve { order_id, quantity } => {
                if *quantity > self.available() {
                    return Err(InventoryError::Insufficient { available: self.available(), requested: *quantity });
                }
                Ok(vec![InventoryEvent::InventoryReserved { order_id: order_id.clone(), quantity: *quantity }])
            }
            InventoryCommand::Release { order_id } => {
                let quantity = *self.reserved.get(order_id).ok_or_else(|| InventoryError::NoReservation(order_id.clone()))?;
                Ok(vec![InventoryEvent::InventoryReleased { order_id: order_id.clone(), quantity }])
            }
            InventoryCommand::Allocate { order_id } => {
                let quantity = *self.reserved.get(order_id).ok_or_else(|| InventoryError::NoReservation(order_id.clone()))?;
                Ok(vec![InventoryEvent::InventoryAllocated { order_id: order_id.clone(), quantity }])
            }
        }
    }

    fn apply(&mut self, event: &InventoryEvent) {
        match event {
            InventoryEvent::StockAdded { quantity } => self.on_hand += quantity,
            InventoryEvent::InventoryReserved { order_id, quantity } => {
                self.reserved.insert(order_id.clone(), *quantity);
            }
            InventoryEvent::InventoryReleased { order_id, .. } => {
                self.reserved.remove(order_id);
            }
            InventoryEvent::InventoryAllocated { order_id, quantity } => {
                self.reserved.remove(order_id);
                self.on_hand -= quantity;
            }
        }
    }
}
