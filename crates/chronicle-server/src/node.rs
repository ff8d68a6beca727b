//! This node: its name (in `/health/*`, in `/metrics` labels, in leases)
//! and, on a backend that talks to a database server, its connections
//! (pool, reconnects, change-feed wake-ups, circuit breaker).

use chronicle_core::{BreakerState, ConnectionReport, ConnectionStats, Health};
use serde::Serialize;
use std::{fmt::Write as _, sync::Arc};

/// Who this node is and what it knows about its connections.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// The node's name (`chronicle serve --node`, or generated).
    pub name: Option<String>,
    /// The backend's connection report (PostgreSQL), if it has one.
    pub connections: Option<Arc<dyn ConnectionReport>>,
}

/// The body of `/health/live` and `/health/ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HealthBody {
    /// The process can make progress (restart it if false).
    live: bool,
    /// The store can serve requests now (route traffic elsewhere if false).
    ready: bool,
    /// The backend, or the cause of unreadiness.
    detail: String,
    /// This node's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    /// This node's connections to the database (PostgreSQL only): pool,
    /// reconnects, change-feed wake-ups, circuit breaker (`closed`, `open`,
    /// `half_open`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    connections: Option<ConnectionStats>,
}

impl Node {
    /// The health body for `health`, with this node's name and connections.
    pub(crate) fn health(&self, health: Health) -> HealthBody {
        HealthBody {
            live: health.live,
            ready: health.ready,
            detail: health.detail,
            node: self.name.clone(),
            connections: self.connections.as_ref().map(|c| c.connection_stats()),
        }
    }

    /// `chronicle_node_info` and the connection metrics, labelled with the node.
    pub(crate) fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let Some(name) = &self.name else { return out };
        let node = format!("node=\"{}\"", escape(name));
        let _ = writeln!(out, "# HELP chronicle_node_info This node (value 1).\n# TYPE chronicle_node_info gauge");
        let _ = writeln!(out, "chronicle_node_info{{{node},version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        let Some(c) = self.connections.as_ref().map(|c| c.connection_stats()) else { return out };
        let mut metric = |name: &str, help: &str, kind: &str, lines: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{{{node}{labels}}} {value}");
            }
        };
        let pool = [(",state=\"in_use\"", c.in_use), (",state=\"idle\"", c.idle)];
        metric("chronicle_db_pool_connections", "Pooled database connections by state.", "gauge", &pool);
        metric("chronicle_db_pool_max", "Most pooled connections.", "gauge", &[("", c.pool_max)]);
        metric("chronicle_db_pool_waiting", "Callers waiting for a pooled connection.", "gauge", &[("", c.waiting)]);
        metric("chronicle_db_connections_opened_total", "Database connections opened.", "counter", &[("", c.opened)]);
        metric("chronicle_db_reconnects_total", "Database connections found dead and replaced.", "counter", &[("", c.reconnects)]);
        metric("chronicle_db_notify_wakeups_total", "Head advances learnt from NOTIFY.", "counter", &[("", c.notify_wakeups)]);
        metric("chronicle_db_listening", "1 while the change-notification connection listens.", "gauge", &[("", u64::from(c.listening))]);
        let state = |s| u64::from(c.breaker == s);
        let states = [
            (",state=\"closed\"", state(BreakerState::Closed)),
            (",state=\"open\"", state(BreakerState::Open)),
            (",state=\"half_open\"", state(BreakerState::HalfOpen)),
        ];
        metric("chronicle_db_breaker_state", "The circuit breaker's state (1 for the current one).", "gauge", &states);
        metric("chronicle_db_breaker_trips_total", "Times the circuit breaker opened.", "counter", &[("", c.breaker_trips)]);
        out
    }
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(ConnectionStats);
    impl ConnectionReport for Fixed {
        fn connection_stats(&self) -> ConnectionStats {
            self.0.clone()
        }
    }

    #[test]
    fn metrics_carry_the_node_label_and_one_breaker_state() {
        let stats = ConnectionStats { in_use: 2, idle: 3, breaker: BreakerState::Open, breaker_trips: 1, ..ConnectionStats::default() };
        let node = Node { name: Some("eu \"1\"".into()), connections: Some(Arc::new(Fixed(stats))) };
        let text = node.render_prometheus();
        assert!(text.contains("chronicle_db_pool_connections{node=\"eu \\\"1\\\"\",state=\"in_use\"} 2"), "{text}");
        assert!(text.contains("chronicle_db_breaker_state{node=\"eu \\\"1\\\"\",state=\"open\"} 1"), "{text}");
        assert!(text.contains("chronicle_db_breaker_state{node=\"eu \\\"1\\\"\",state=\"closed\"} 0"), "{text}");
        let body = serde_json::to_value(node.health(Health::ok("x"))).unwrap();
        assert_eq!((body["node"].as_str(), body["connections"]["breaker"].as_str()), (Some("eu \"1\""), Some("open")));
        assert!(Node::default().render_prometheus().is_empty());
    }
}
