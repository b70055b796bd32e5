//! `exportData()`: everything stored about the shopper, the stored document included as the JSON
//! it is.

use crate::pricer::{Consent, Persistence, Pricer};
use serde::Serialize;

/// `pricer.exportData()`: everything stored about the shopper.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportData {
    pub persistence: Persistence,
    pub consent: Consent,
    pub anon_id: Option<String>,
    pub retention_days: u32,
    pub purchase_history_days: u32,
    pub stored_bytes: usize,
    pub evicted_events: u64,
    /// The stored document itself (JSON by nature: it is what the storage adapter holds).
    pub state: Option<serde_json::Value>,
}

impl Pricer {
    /// Everything stored about the shopper, exactly as this pricer would store it.
    pub fn export_data(&self) -> ExportData {
        let stored = self.state_to_save();
        ExportData {
            persistence: self.persistence(),
            consent: self.consent(),
            anon_id: (self.persistence() != Persistence::None).then(|| self.anon_id().to_string()),
            retention_days: self.policy().privacy.retention_days,
            purchase_history_days: self.retention().purchase_days,
            stored_bytes: stored.as_ref().map_or(0, String::len),
            evicted_events: self.evicted_events(),
            state: stored.and_then(|s| serde_json::from_str(&s).ok()),
        }
    }
}
