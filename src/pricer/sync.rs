//! Storage shared by several pricers (two tabs of one shop): loading the stored state, merging it
//! before every write, and what each pricer knows of what is stored.

use super::*;

/// This pricer's view of the shared storage.
#[derive(Debug, Default)]
pub(super) struct StoreView {
    /// Events tracked here that are not in storage yet.
    unsynced: Vec<Event>,
    /// The anonymous id of the stored state when this pricer last read or wrote it (None: it has
    /// seen no stored state, or storage was erased).
    seen_anon_id: Option<String>,
    /// The exact text this pricer last read or wrote: equal text means no other writer since.
    last_text: Option<String>,
}

impl StoreView {
    /// A view of a store this pricer has not written to yet: all its events are new there.
    pub(super) fn all_unsynced(events: &[Event]) -> StoreView {
        StoreView {
            unsynced: events.to_vec(),
            ..Default::default()
        }
    }

    pub(super) fn add_unsynced(&mut self, ev: Event) {
        self.unsynced.push(ev);
        if self.unsynced.len() > limits::MAX_EVENTS {
            // Storage has been unwritable for a long time: keep what the log itself would keep.
            self.unsynced.remove(0);
        }
    }
}

impl Pricer {
    /// Replaces the log from a stored state, as read when the pricer starts. With consent the
    /// stored anonymous id is adopted, unless one was injected.
    pub fn load_state(&mut self, text: Option<&str>, now_ms: i64) {
        self.invalidate();
        self.store = StoreView::default();
        if self.persistence() == Persistence::None {
            self.log.clear();
            return;
        }
        let (stored, report) = state::read(text, now_ms, self.retention());
        if report.outcome == state::LoadOutcome::Loaded {
            self.store.last_text = text.map(str::to_string);
        }
        self.store.seen_anon_id = stored.anon_id.clone();
        self.log = stored.log;
        self.report_budget.merge(&stored.report_budget);
        self.absorb_shown(stored.shown.as_ref(), now_ms);
        self.load_report = report;
        if let (Some(id), false) = (stored.anon_id, self.anon_id_injected) {
            self.anon_id = id;
        }
    }

    /// Brings this pricer in line with what the shared storage holds *now*, just before it writes:
    /// two tabs of one shop share one storage and neither sees the other's writes as they happen.
    /// The stored log is the base and this pricer's unsynced events are added to it, so no tab
    /// loses another's events. When the stored state is gone although this pricer saw one, or now
    /// has another anonymous id, another tab forgot the shopper (or withdrew consent): what this
    /// pricer had from storage is dropped too and only its unsynced events remain, so a `forget()`
    /// in one tab is never undone by stale state in another. Otherwise events this pricer holds
    /// that storage lacks are kept (another tab wrote from a stale copy). Returns whether storage
    /// lacks events this pricer now holds: the caller should write.
    pub fn sync(&mut self, text: Option<&str>, now_ms: i64) -> bool {
        if self.persistence() == Persistence::None {
            return false;
        }
        if text.is_some() && text == self.store.last_text.as_deref() {
            return !self.store.unsynced.is_empty(); // nobody else wrote since
        }
        if text.is_none() && self.store.seen_anon_id.is_none() {
            // Nothing stored, and nothing ever seen: this pricer's log is all there is.
            return !self.log.events().is_empty();
        }
        let (stored, report) = state::read(text, now_ms, self.retention());
        let erased = match (&stored.anon_id, &self.store.seen_anon_id) {
            (None, Some(_)) => true,
            (Some(now), Some(seen)) => now != seen,
            _ => false,
        };
        let base = if erased && stored.anon_id.is_none() {
            BehaviourLog::default()
        } else {
            stored.log
        };
        let mut log = base.clone();
        if !erased {
            // Another tab may have written from a copy that missed this pricer's last write (tabs
            // in other processes see localStorage writes late): keep what either side holds.
            log.absorb(&self.log, &self.store.unsynced, now_ms, self.retention());
        }
        for ev in &self.store.unsynced {
            log.push(ev.clone(), now_ms, self.retention());
        }
        let storage_lacks_events = log.holds_more_than(&base);
        self.log = log;
        // Even when another tab forgot the shopper, what was disclosed today stays counted.
        self.report_budget.merge(&stored.report_budget);
        if !erased {
            self.absorb_shown(stored.shown.as_ref(), now_ms);
        }
        // Remember what was read: the same text next time means nobody wrote since, and its id
        // tells a later erase or restart apart.
        self.store.seen_anon_id = stored.anon_id.clone();
        self.store.last_text = stored.anon_id.as_ref().and(text.map(str::to_string));
        if !self.anon_id_injected {
            match stored.anon_id {
                Some(id) => self.anon_id = id,
                None if erased => self.anon_id = experiment::new_anon_id(self.rng.as_mut()),
                None => {}
            }
        }
        if text.is_some() {
            self.load_report = report;
        }
        if erased {
            self.invalidate();
        } else {
            self.forget_scores();
        }
        storage_lacks_events
    }

    /// Records a successful write of `written` (what [`Pricer::state_to_save`] gave): the unsynced
    /// events are in storage now.
    pub fn saved(&mut self, written: Option<String>) {
        self.store.unsynced.clear();
        self.shown_unsaved = false;
        self.store.seen_anon_id = written.as_ref().map(|_| self.anon_id.clone());
        self.store.last_text = written;
    }
}
