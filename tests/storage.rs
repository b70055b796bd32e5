//! Storage shared by two tabs of one shop: each merges before it writes; a forget() or an opt-out
//! in one tab is never undone by another.

mod common;

use common::*;
use pricelet::scorer::ModelKind;
use pricelet::JsonPricer;
use pricelet::{Consent, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};

/// Two tabs of one shop share one storage and never see each other's writes as they happen. Each
/// writes through `sync` (re-read, merge, write), as the wasm binding does on every `track()`.
struct Tab {
    p: Pricer,
}

impl Tab {
    fn open(shared: &Option<String>) -> Tab {
        let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
        let config = PricerConfig {
            anon_id: None,
            ..config(Consent::Granted)
        };
        let p = Pricer::new(
            Policy::default_policy(),
            model,
            ModelSlot::Absent,
            shared.as_deref(),
            config,
            NOW,
            test_rng(),
        )
        .unwrap();
        Tab { p }
    }

    fn write(&mut self, shared: &mut Option<String>) {
        self.p.sync(shared.as_deref(), NOW);
        let state = self.p.state_to_save();
        *shared = state.clone();
        self.p.saved(state);
    }

    fn track(&mut self, shared: &mut Option<String>, page: &str) {
        let ev =
            json!({"type": "page_view", "at": NOW - 1000, "page": {"kind": "product", "id": page}});
        assert!(self.p.track_json(&ev, &clock(0)).unwrap().stored);
        self.write(shared);
    }
}

fn stored_pages(shared: &Option<String>) -> Vec<String> {
    let Some(s) = shared else { return vec![] };
    let v: Value = serde_json::from_str(s).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["page"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn stored_anon(shared: &Option<String>) -> Option<String> {
    let v: Value = serde_json::from_str(shared.as_ref()?).unwrap();
    v["anonId"].as_str().map(str::to_string)
}

#[test]
fn two_tabs_on_one_storage_keep_each_others_events_and_forget_wins() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    for i in 0..5 {
        a.track(&mut shared, &format!("a{i}"));
        b.track(&mut shared, &format!("b{i}"));
    }
    let mut pages = stored_pages(&shared);
    pages.sort();
    assert_eq!(
        pages,
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"],
        "no tab lost the other's events"
    );
    assert_eq!(
        a.p.anon_id(),
        b.p.anon_id(),
        "one shopper, one anonymous id"
    );
    assert_eq!(stored_anon(&shared).as_deref(), Some(a.p.anon_id()));
    let old_id = a.p.anon_id().to_string();
    // forget() in A (the binding erases the store); B's next track must not bring anything back.
    a.p.forget();
    shared = None;
    b.track(&mut shared, "after");
    assert_eq!(
        stored_pages(&shared),
        ["after"],
        "the forgotten events stay forgotten"
    );
    assert_ne!(
        stored_anon(&shared).unwrap(),
        old_id,
        "and so does the old anonymous id"
    );
    assert_eq!(status(&b.p)["events"], 1);
    // A, which forgot, then tracks: it joins B's new state rather than starting a third one.
    a.track(&mut shared, "a-after");
    assert_eq!(stored_pages(&shared).len(), 2);
    assert_eq!(a.p.anon_id(), b.p.anon_id());
    // Consent withdrawn in A erases storage too: B drops what it had from storage.
    a.p.set_consent(Consent::Denied);
    shared = None;
    b.track(&mut shared, "later");
    assert_eq!(stored_pages(&shared), ["later"]);
    // If A forgets and writes again before B does, B sees another anonymous id: the same rule.
    let mut c = Tab::open(&shared);
    c.track(&mut shared, "c");
    assert_eq!(stored_pages(&shared), ["later", "c"]);
    c.p.forget();
    shared = None;
    c.track(&mut shared, "c-new");
    b.track(&mut shared, "b-new");
    assert_eq!(stored_pages(&shared), ["c-new", "b-new"]);
    assert_eq!(b.p.anon_id(), c.p.anon_id());
}

/// A tab that only *reads* another tab's write (the browser's `storage` event) still notices a
/// later erase: what it read is remembered, not just what it wrote.
#[test]
fn a_tab_that_only_read_the_shared_state_still_honours_a_later_forget() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    b.track(&mut shared, "b");
    a.track(&mut shared, "a");
    b.p.sync(shared.as_deref(), NOW); // the storage event: B reads A's write
    assert_eq!(status(&b.p)["events"], 2);
    a.p.forget();
    shared = None;
    b.p.sync(None, NOW); // the storage event of the erase
    assert_eq!(
        status(&b.p)["events"],
        0,
        "B dropped the forgotten events at once"
    );
    b.track(&mut shared, "b2");
    assert_eq!(stored_pages(&shared), ["b2"]);
}

/// Tabs in other processes see each other's localStorage writes late: B may write from a copy
/// that misses A's last event. A's next read of storage keeps that event and asks to write it
/// back; nothing is lost and nothing is counted twice.
#[test]
fn a_write_from_a_stale_copy_loses_no_event() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    a.track(&mut shared, "a0");
    b.track(&mut shared, "b0");
    let stale = shared.clone(); // what B's process still sees after A's next write
    a.track(&mut shared, "a1");
    let mut seen_by_b = stale;
    b.track(&mut seen_by_b, "b1");
    shared = seen_by_b; // B's write lands last and lacks a1
    let mut pages = stored_pages(&shared);
    pages.sort();
    assert_eq!(pages, ["a0", "b0", "b1"], "the stale write did drop a1");
    assert!(
        a.p.sync(shared.as_deref(), NOW),
        "A's storage event: storage lacks an event A holds, so A must write"
    );
    assert_eq!(status(&a.p)["events"], 4, "A kept a1 and took b1");
    a.write(&mut shared);
    let mut pages = stored_pages(&shared);
    pages.sort();
    assert_eq!(pages, ["a0", "a1", "b0", "b1"]);
    assert!(
        !b.p.sync(shared.as_deref(), NOW),
        "B holds nothing storage lacks: no write back, so the tabs do not ping-pong"
    );
    assert_eq!(status(&b.p)["events"], 4);
    // The same event tracked twice (two clicks in one millisecond) is kept twice.
    a.track(&mut shared, "twice");
    a.track(&mut shared, "twice");
    b.track(&mut shared, "b2");
    assert_eq!(
        stored_pages(&shared)
            .iter()
            .filter(|p| *p == "twice")
            .count(),
        2
    );
    assert!(!a.p.sync(shared.as_deref(), NOW));
    assert_eq!(status(&a.p)["events"], 7);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any interleaving of three tabs, each writing from a copy of storage up to three writes
    /// old (a tab's copy never goes back in time, nor behind its own last write): once every tab
    /// has handled the last `storage` event (writing back when `sync` asks), storage holds every
    /// tracked event exactly once.
    #[test]
    fn stale_writes_lose_no_event_once_the_tabs_settle(
        ops in proptest::collection::vec((0usize..3, 0usize..4), 1..24)
    ) {
        let mut versions: Vec<Option<String>> = vec![None];
        let mut tabs = [Tab::open(&None), Tab::open(&None), Tab::open(&None)];
        let mut seen = [0usize; 3];
        let mut tracked = Vec::new();
        for (n, (tab, lag)) in ops.into_iter().enumerate() {
            let newest = versions.len() - 1;
            let mut copy = versions[newest.saturating_sub(lag).max(seen[tab])].clone();
            let page = format!("t{tab}-{n}");
            tabs[tab].track(&mut copy, &page);
            versions.push(copy);
            seen[tab] = versions.len() - 1;
            tracked.push(page);
        }
        let mut settled = false;
        for _ in 0..6 {
            let mut latest = versions.last().unwrap().clone();
            let mut wrote = false;
            for t in &mut tabs {
                if t.p.sync(latest.as_deref(), NOW) {
                    t.write(&mut latest);
                    versions.push(latest.clone());
                    wrote = true;
                }
            }
            if !wrote {
                settled = true;
                break;
            }
        }
        proptest::prop_assert!(settled, "the tabs kept writing back to each other");
        let mut pages = stored_pages(versions.last().unwrap());
        pages.sort();
        tracked.sort();
        proptest::prop_assert_eq!(pages, tracked);
    }
}

/// A page of the shop with the shipped stability window (the `Tab`s above turn it off).
fn page(shared: &Option<String>) -> Pricer {
    let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
    // A shopper in the treatment arm (a control shopper sees list prices whatever the behaviour).
    let config = PricerConfig {
        stability_ttl_ms: None,
        ..config(Consent::Granted)
    };
    Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        shared.as_deref(),
        config,
        NOW,
        test_rng(),
    )
    .unwrap()
}

fn save(p: &mut Pricer, shared: &mut Option<String>) {
    p.sync(shared.as_deref(), NOW);
    *shared = p.state_to_save();
    p.saved(shared.clone());
}

#[test]
fn a_price_shown_on_one_page_is_the_price_on_the_next_whatever_was_tracked_between() {
    let items: Vec<Value> = (0..24)
        .map(|i| json!({"id": format!("item-{i}"), "price": format!("{}.99", 20 + 7 * i), "currency": "EUR", "category": "home", "cost": "8.00"}))
        .collect();
    let mut shared = None;
    // The listing: a first page prices every item, browses, and saves what it showed.
    let mut listing = page(&shared);
    save(&mut listing, &mut shared);
    let shown: Vec<_> = items
        .iter()
        .map(|i| listing.price_for(i, &clock(0)).unwrap())
        .collect();
    assert!(listing.has_unsaved_quotes());
    browse(&mut listing, 12);
    save(&mut listing, &mut shared);
    assert!(!listing.has_unsaved_quotes());
    // A product page opened in a new tab, later, with all that behaviour: the same quotes.
    let mut product = page(&shared);
    let fresh_page = page(&None);
    for (item, before) in items.iter().zip(&shown) {
        let again = product.price_for(item, &clock(200_000)).unwrap();
        assert_eq!(again, *before, "{}", item["id"]);
    }
    // Without the stored quotes this behaviour prices some items differently: the test can fail.
    let mut blank = fresh_page;
    let mut browsed = shared.clone();
    let v: Value = serde_json::from_str(browsed.as_ref().unwrap()).unwrap();
    let mut without = v.clone();
    without.as_object_mut().unwrap().remove("shown");
    browsed = Some(without.to_string());
    blank.load_state(browsed.as_deref(), NOW);
    let differ = items
        .iter()
        .zip(&shown)
        .filter(|(i, q)| blank.price_for(i, &clock(200_000)).unwrap().price_minor != q.price_minor)
        .count();
    assert!(differ > 0, "the browse changes some prices");
    // A changed item (a new list price) is priced again, never served an old quote.
    let mut cheaper = items[0].clone();
    cheaper["price"] = json!("15.99");
    let q = page(&shared).price_for(&cheaper, &clock(200_000)).unwrap();
    assert_eq!(q.list_price_minor, 1599);
    // After the stability window the stored quotes are not re-served.
    let late = page(&shared)
        .price_for(&items[1], &clock(31 * 60_000))
        .unwrap();
    assert_ne!(late.issued_at, shown[1].issued_at);
}

#[test]
fn before_its_engine_is_ready_a_page_reads_the_quote_shown_elsewhere_and_nothing_forged() {
    let policy = Policy::default_policy();
    let items: Vec<Value> = (0..12)
        .map(|i| json!({"id": format!("item-{i}"), "price": format!("{}.99", 20 + 7 * i), "currency": "EUR", "category": "home", "cost": "8.00"}))
        .collect();
    let mut shared = None;
    let mut listing = page(&shared);
    browse(&mut listing, 12);
    let shown: Vec<_> = items
        .iter()
        .map(|i| listing.price_for(i, &clock(0)).unwrap())
        .collect();
    save(&mut listing, &mut shared);
    let text = shared.clone().unwrap();
    let at = NOW + 200_000;
    // Without a pricer or a model: exactly the quote shown, personalized ones included.
    for (item, before) in items.iter().zip(&shown) {
        let parsed = pricelet::Item::from_json(item).unwrap();
        let early = pricelet::pricer::shown_quote(&text, &parsed, &policy, at, None);
        assert_eq!(early.as_ref(), Some(before), "{}", item["id"]);
    }
    assert!(
        shown.iter().any(|q| q.personalized),
        "personalized quotes are covered"
    );
    let first = pricelet::Item::from_json(&items[0]).unwrap();
    let read = |t: &str, now: i64| pricelet::pricer::shown_quote(t, &first, &policy, now, None);
    // After the window, under another policy version, for an edited item, or from a state that is
    // not pricelet's: none.
    assert!(read(&text, NOW + 31 * 60_000).is_none());
    let mut other = policy.clone();
    other.version = "other-policy".into();
    assert!(pricelet::pricer::shown_quote(&text, &first, &other, at, None).is_none());
    let mut cheaper = items[0].clone();
    cheaper["price"] = json!("15.99");
    let cheaper = pricelet::Item::from_json(&cheaper).unwrap();
    assert!(pricelet::pricer::shown_quote(&text, &cheaper, &policy, at, None).is_none());
    assert!(read("not json", at).is_none());
    assert!(read(r#"{"schema":"other","version":1,"shown":{}}"#, at).is_none());
    // The shopper edits the stored price (or the quote id to match): refused, never shown.
    let v: Value = serde_json::from_str(&text).unwrap();
    let entry = v["shown"]["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|q| q[0] == "item-0")
        .unwrap();
    let mut forged = v.clone();
    forged["shown"]["quotes"][entry][1] = json!(1);
    assert!(read(&forged.to_string(), at).is_none(), "a forged price");
    let mut below_floor = v.clone();
    below_floor["shown"]["quotes"][entry][1] = json!(1);
    below_floor["shown"]["quotes"][entry][8] = json!(shown[0].quote_id);
    assert!(
        read(&below_floor.to_string(), at).is_none(),
        "a forged price with the old id"
    );
}

#[test]
fn a_price_shown_before_the_engine_was_ready_stays_and_nothing_else_is_adopted() {
    let policy = Policy::default_policy();
    let items: Vec<Value> = (0..12)
        .map(|i| json!({"id": format!("item-{i}"), "price": format!("{}.99", 20 + 7 * i), "currency": "EUR", "category": "home", "cost": "8.00"}))
        .collect();
    let parsed: Vec<_> = items
        .iter()
        .map(|i| pricelet::Item::from_json(i).unwrap())
        .collect();
    let list = |i: usize, at: i64| {
        pricelet::pricer::list_quote(&parsed[i], &policy, None, at, pricelet::Reason::List)
    };
    let mut shared = None;
    let mut a = page(&shared);
    for i in 0..3 {
        // A hesitant visit: the model is unsure, so the policy discounts.
        let ev = json!({"type": "page_view", "at": NOW - 60_000 + i * 20_000,
            "page": {"kind": "product", "id": format!("p{i}"), "bounceRate": 0.2, "exitRate": 0.2, "pageValue": 0}});
        a.track_json(&ev, &clock(0)).unwrap();
    }
    save(&mut a, &mut shared);
    // What this behaviour prices on a page that showed nothing early: not always the list price.
    let decided: Vec<_> = items
        .iter()
        .map(|i| page(&shared).price_for(i, &clock(1_000)).unwrap())
        .collect();
    let differs = (0..items.len())
        .find(|&i| decided[i].price_minor != parsed[i].list_minor)
        .unwrap_or_else(|| {
            panic!(
                "the behaviour moves some price off list: {:?}",
                decided
                    .iter()
                    .map(|q| (q.reason, q.price_minor))
                    .collect::<Vec<_>>()
            )
        });
    // Shown at list while the engine loaded, adopted once ready: the price stays, here and on the
    // shop's next page.
    let early = list(differs, NOW);
    assert!(a.adopt_quote(&parsed[differs], &early, &clock(2_000)));
    assert_eq!(a.price_for(&items[differs], &clock(3_000)).unwrap(), early);
    save(&mut a, &mut shared);
    let mut next = page(&shared);
    assert_eq!(
        next.price_for(&items[differs], &clock(60_000)).unwrap(),
        early
    );
    let text = shared.clone().unwrap();
    assert_eq!(
        pricelet::pricer::shown_quote(&text, &parsed[differs], &policy, NOW + 60_000, None),
        Some(early.clone())
    );
    // An item this page already priced keeps its price.
    let other = (differs + 1) % items.len();
    let priced = a.price_for(&items[other], &clock(4_000)).unwrap();
    assert_eq!(
        a.adopt_quote(&parsed[other], &list(other, NOW), &clock(5_000)),
        priced.price_minor == parsed[other].list_minor
    );
    assert_eq!(a.price_for(&items[other], &clock(6_000)).unwrap(), priced);
    // Refused: a quote for another item, a price below the policy's floor, one issued before the
    // window, a personalized quote on a page without consent.
    let spare = (differs + 2) % items.len();
    let mut b = page(&None);
    assert!(!b.adopt_quote(&parsed[spare], &list(spare + 1, NOW), &clock(0)));
    let mut cheap = list(spare, NOW);
    cheap.price_minor = 1;
    cheap.discount_minor = parsed[spare].list_minor - 1;
    assert!(!b.adopt_quote(&parsed[spare], &cheap, &clock(0)));
    assert!(!b.adopt_quote(&parsed[spare], &list(spare, NOW - 31 * 60_000), &clock(0)));
    assert_ne!(
        b.price_for(&items[spare], &clock(0)).unwrap().price_minor,
        1
    );
    let personalized = decided
        .iter()
        .position(|q| q.personalized && q.discount_minor > 0)
        .expect("a personalized discount");
    let mut denied = Pricer::new(
        policy.clone(),
        pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest),
        ModelSlot::Absent,
        None,
        PricerConfig {
            stability_ttl_ms: None,
            ..config(Consent::Denied)
        },
        NOW,
        test_rng(),
    )
    .unwrap();
    assert!(!denied.adopt_quote(&parsed[personalized], &decided[personalized], &clock(2_000)));
    assert_eq!(
        denied
            .price_for(&items[personalized], &clock(2_000))
            .unwrap()
            .price_minor,
        parsed[personalized].list_minor
    );
}
