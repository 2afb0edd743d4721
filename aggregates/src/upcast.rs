//! Upcasters: old event shapes rewritten into current ones as they are read from the log.
//!
//! A released event is never reshaped in place. Its version is bumped and an upcaster here turns
//! every older stored payload into the new shape, so aggregates and projections only ever see the
//! current enum.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::{json, Value};

/// All upcasters, in the order they apply.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(RegistrationsModeV1)]
}

/// Applies every upcaster that matches, the way cqrs-es does when it loads an aggregate.
pub fn upcast(event: SerializedEvent) -> SerializedEvent {
    static ALL: std::sync::OnceLock<Vec<Box<dyn EventUpcaster>>> = std::sync::OnceLock::new();
    ALL.get_or_init(upcasters)
        .iter()
        .fold(event, |event, upcaster| {
            if upcaster.can_upcast(&event.event_type, &event.event_version) {
                upcaster.upcast(event)
            } else {
                event
            }
        })
}

/// `RegistrationsModeChanged` 1.0 stored `{"open": bool}` from the days when registration was
/// either open or closed; 2.0 stores `{"mode": "open" | "approval" | "closed"}`.
pub struct RegistrationsModeV1;

impl EventUpcaster for RegistrationsModeV1 {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == "RegistrationsModeChanged" && event_version == "1.0"
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        let body = event
            .payload
            .get("RegistrationsModeChanged")
            .cloned()
            .unwrap_or(Value::Null);
        let open = body.get("open").and_then(Value::as_bool).unwrap_or(false);
        let at = body.get("at").cloned().unwrap_or(json!(0));
        let mode = if open { "open" } else { "closed" };
        event.payload = json!({ "RegistrationsModeChanged": { "mode": mode, "at": at } });
        event.event_version = "2.0".to_string();
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InstanceEvent, RegistrationsMode};

    fn stored_v1(open: bool) -> SerializedEvent {
        SerializedEvent::new(
            "local".into(),
            1,
            "instance".into(),
            "RegistrationsModeChanged".into(),
            "1.0".into(),
            json!({ "RegistrationsModeChanged": { "open": open, "at": 7 } }),
            json!({}),
        )
    }

    #[test]
    fn a_v1_open_flag_reads_as_the_v2_mode() -> Result<(), serde_json::Error> {
        for (open, mode) in [
            (true, RegistrationsMode::Open),
            (false, RegistrationsMode::Closed),
        ] {
            let event = upcast(stored_v1(open));
            assert_eq!(event.event_version, "2.0");
            let typed: InstanceEvent = serde_json::from_value(event.payload)?;
            assert_eq!(
                typed,
                InstanceEvent::RegistrationsModeChanged { mode, at: 7 }
            );
        }
        Ok(())
    }

    #[test]
    fn current_events_pass_through_unchanged() {
        let mut event = stored_v1(true);
        event.event_version = "2.0".into();
        assert_eq!(upcast(event.clone()), event);
    }
}
