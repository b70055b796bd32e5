//! Where a device pricer keeps the shopper's state (localStorage, the page's adapter, this page's
//! memory), reading it in and writing it back.

use super::*;

/// Where `options.storage` says the state goes when it may be kept across visits (the wrapper
/// keeps `'memory'` itself and sends it as an adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StorageMode {
    /// The browser's localStorage (the default where there is one).
    Local,
    /// `hooks.storage`, a `{ load, save }` object.
    Adapter,
}

impl StorageMode {
    /// The wire string the wrapper sends, or `None` for any other.
    pub(super) fn parse(wire: &str) -> Option<StorageMode> {
        match wire {
            "local" => Some(StorageMode::Local),
            "adapter" => Some(StorageMode::Adapter),
            _ => None,
        }
    }
}

impl WasmPricer {
    pub(super) fn active_store(&self) -> Option<&Store> {
        store_for(self.core.persistence(), &self.persistent, &self.session)
    }

    /// Reads the stored state into the engine. `initial`: at construction, where an adapter that
    /// breaks its contract is an error; later (another tab wrote) a failure is only reported.
    pub(super) fn load_from_store(&mut self, initial: bool) -> Result<(), JsValue> {
        let clock = self.clock()?;
        if self.core.persistence() == Persistence::None {
            // Nothing may be kept: erase what an earlier visit stored. (Later, when another tab
            // writes, that is its own new state, not this page's to erase.)
            if initial {
                if let Some(s) = &self.persistent {
                    let _ = s.save(None);
                }
                self.core.load_state(None, clock.now_ms);
            }
            return Ok(());
        }
        let state = match self.active_store().map(Store::load).transpose() {
            Ok(s) => {
                self.storage_error = None;
                s.flatten()
            }
            Err(LoadError::Contract(why)) if initial => return Err(arg_error("storage", why)),
            Err(e) => {
                // Never treat an unreadable store as empty: nothing is written until a read
                // succeeds, so what it holds is not overwritten.
                self.storage_error = Some(format!(
                    "{}; nothing is saved until storage can be read again, so what it holds is not overwritten",
                    e.message()
                ));
                if initial {
                    self.core.load_state(None, clock.now_ms);
                }
                return Ok(());
            }
        };
        if initial {
            self.core.load_state(state.as_deref(), clock.now_ms);
        } else {
            // Another tab wrote. If it wrote from a copy that missed events this page holds, write
            // them back now, so they are not lost when this tab closes without tracking again.
            if self.core.sync(state.as_deref(), clock.now_ms) {
                self.persist(clock.now_ms);
            }
            return Ok(());
        }
        // Storage must hold what the engine uses: an unusable state is removed at once and a
        // repaired one rewritten, so exportData() never shows bytes the engine threw away.
        match self.core.load_report().outcome {
            LoadOutcome::Discarded => {
                if let Some(Err(why)) = self.active_store().map(|s| s.save(None)) {
                    self.storage_error = Some(why.to_string());
                }
            }
            LoadOutcome::Repaired => {
                self.persist(clock.now_ms);
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes the state: re-reads storage first and merges (another tab may have written or
    /// forgotten since), and writes nothing while storage cannot be read.
    pub(super) fn persist(&mut self, now_ms: i64) -> bool {
        let Some(store) = store_for(self.core.persistence(), &self.persistent, &self.session)
        else {
            return false;
        };
        let stored = match store.load() {
            Ok(s) => s,
            Err(e) => {
                self.storage_error = Some(format!(
                    "{}; nothing is saved until storage can be read again, so what it holds is not overwritten",
                    e.message()
                ));
                return false;
            }
        };
        self.core.sync(stored.as_deref(), now_ms);
        let state = self.core.state_to_save();
        match store.save(state.as_deref()) {
            Ok(()) => {
                self.storage_error = None;
                self.core.saved(state);
                true
            }
            Err(why) => {
                self.storage_error = Some(why.to_string());
                false
            }
        }
    }
}
