"""pricelet's feature path in Python: the mirror of src/features.rs, driven by the same spec file
(models/features.json). Training uses `summary_from_row`; the cross-language test vectors use
`summaries_from_events`, the path a device runs (event log -> session aggregation -> features).
All maths in float64; values become float32 once, at the model input."""

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPEC = json.loads((HERE / "features.json").read_text())
FEATURES = {f["name"]: f for f in SPEC["features"]}

SESSION_GAP_MS = 30 * 60 * 1000
DAY_MS = 24 * 60 * 60 * 1000
MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "June": 6, "Jun": 6, "Jul": 7,
          "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
EXPONENTS = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KWD": 3}


def transform(name, x):
    t = FEATURES[name]["transform"]
    if t == "identity":
        return float(x)
    if t == "log1p":
        return float(np.log1p(x))
    if t.startswith("equals:"):
        return 1.0 if x == float(t.split(":", 1)[1]) else 0.0
    raise ValueError(f"unknown transform {t}")


def vector(names, summary):
    """Feature values (float64) in the order of `names`, from a flat summary dict."""
    return [transform(n, summary[FEATURES[n]["from"]]) for n in names]


def matrix(names, summaries):
    return np.array([vector(names, s) for s in summaries], dtype=np.float64)


# ---- dataset rows -----------------------------------------------------------------------------

def summary_from_row(row):
    """One Online Shoppers row (a finished Google Analytics session) as a session summary."""
    return {
        "admin_pages": float(row["Administrative"]),
        "admin_seconds": float(row["Administrative_Duration"]),
        "info_pages": float(row["Informational"]),
        "info_seconds": float(row["Informational_Duration"]),
        "product_pages": float(row["ProductRelated"]),
        "product_seconds": float(row["ProductRelated_Duration"]),
        "bounce_rate_avg": float(row["BounceRates"]),
        "exit_rate_avg": float(row["ExitRates"]),
        "page_value_avg": float(row["PageValues"]),
        "special_day": float(row["SpecialDay"]),
        "month": float(MONTHS[row["Month"].strip()]),
        "weekend": 1.0 if str(row["Weekend"]).strip().upper() in ("TRUE", "1") else 0.0,
        "returning_visitor": 1.0 if row["VisitorType"].strip() == "Returning_Visitor" else 0.0,
    }


def history_from_row(row):
    """One Hillstrom row as a customer history."""
    return {
        "recency_months": float(row["recency"]),
        "spend_12m": float(row["history"]),
        "bought_mens": float(row["mens"]),
        "bought_womens": float(row["womens"]),
        "new_customer": float(row["newbie"]),
    }


# ---- event logs (the device's path) ----------------------------------------------------------

def days_from_civil(y, m, d):
    y = y - 1 if m <= 2 else y
    era = y // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def local_date(now_ms, utc_offset_minutes):
    local = now_ms + utc_offset_minutes * 60000
    days = local // DAY_MS
    y, m, d = civil_from_days(days)
    return y, m, d, (days + 3) % 7  # weekday 0 = Monday


def special_day(now_ms, utc_offset_minutes):
    y, m, d, _ = local_date(now_ms, utc_offset_minutes)
    today = days_from_civil(y, m, d)
    may1 = days_from_civil(y, 5, 1)
    mothers_day = may1 + (6 - (may1 + 3) % 7) + 7
    closeness = max(max(0, 5 - abs(today - (day - 6))) for day in (days_from_civil(y, 2, 14), mothers_day))
    return closeness / 5.0


def current_session(events, now_ms):
    if not events or now_ms - events[-1]["at"] >= SESSION_GAP_MS:
        return []
    start = len(events) - 1
    while start > 0 and events[start]["at"] - events[start - 1]["at"] < SESSION_GAP_MS:
        start -= 1
    return events[start:]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else 0.0


def _amount_major(ev):
    exp = EXPONENTS[ev["currency"]]
    minor = int(Decimal(str(ev["amount"])) * (10 ** exp))
    return minor / float(10 ** exp)


def session_summary(events, now_ms, utc_offset_minutes):
    session = current_session(events, now_ms)
    views = [e for e in session if e["type"] == "page_view"]
    s = {k: 0.0 for k in ("admin_pages", "admin_seconds", "info_pages", "info_seconds", "product_pages", "product_seconds")}
    short = {"administrative": "admin", "informational": "info", "product": "product"}
    for i, ev in enumerate(views):
        if "dwellMs" in ev:
            seconds = ev["dwellMs"] / 1000.0
        elif i + 1 < len(views):
            seconds = (views[i + 1]["at"] - ev["at"]) / 1000.0
        else:
            seconds = 0.0
        k = short[ev["page"]["kind"]]
        s[f"{k}_pages"] += 1.0
        s[f"{k}_seconds"] += seconds
    s["bounce_rate_avg"] = _mean([e["page"].get("bounceRate") for e in views])
    s["exit_rate_avg"] = _mean([e["page"].get("exitRate") for e in views])
    s["page_value_avg"] = _mean([e["page"].get("pageValue") for e in views])
    _, month, _, weekday = local_date(now_ms, utc_offset_minutes)
    s["month"] = float(month)
    s["weekend"] = 1.0 if weekday >= 5 else 0.0
    s["special_day"] = special_day(now_ms, utc_offset_minutes)
    start = session[0]["at"] if session else now_ms
    s["returning_visitor"] = 1.0 if any(e["type"] == "page_view" and e["at"] < start for e in events) else 0.0
    return s


def history_summary(events, now_ms):
    year_ago = now_ms - 365 * DAY_MS
    purchases = [e for e in events if e["type"] == "purchase" and e["at"] <= now_ms]
    if not purchases:
        return {"recency_months": 12.0, "spend_12m": 0.0, "bought_mens": 0.0, "bought_womens": 0.0, "new_customer": 1.0}
    newest = max(e["at"] for e in purchases)
    days = (now_ms - newest) / float(DAY_MS)
    recent = [e for e in purchases if e["at"] >= year_ago]
    spend = 0.0
    for e in recent:
        if "amount" in e and "currency" in e:
            spend += _amount_major(e)
    return {
        "recency_months": float(min(12.0, max(1.0, math.ceil(days / 30.4375)))),
        "spend_12m": spend,
        "bought_mens": 1.0 if any(e.get("category") == "mens" for e in recent) else 0.0,
        "bought_womens": 1.0 if any(e.get("category") == "womens" for e in recent) else 0.0,
        "new_customer": 0.0 if any(e["at"] < year_ago for e in purchases) else 1.0,
    }


def item_summary(events, now_ms, item_id, category):
    def is_product_view(e):
        return e["type"] == "page_view" and e["page"]["kind"] == "product"
    views = sum(1 for e in events if is_product_view(e) and e["page"].get("id") == item_id)
    cart = 0.0
    for e in events:
        if e.get("itemId") == item_id:
            if e["type"] == "add_to_cart":
                cart += e.get("quantity", 1.0)
            elif e["type"] == "remove_from_cart":
                cart -= e.get("quantity", 1.0)
    session_views = [e for e in current_session(events, now_ms) if is_product_view(e)]
    in_cat = sum(1 for e in session_views if category is not None and e.get("category") == category)
    return {
        "item_views": float(views),
        "item_in_cart": 1.0 if cart > 0 else 0.0,
        "category_share": in_cat / len(session_views) if session_views else 0.0,
    }


def summaries_from_events(events, now_ms, utc_offset_minutes, item_id=None, category=None):
    """All summary values for a log (events sorted by time, stable) at `now_ms`."""
    events = sorted(events, key=lambda e: e["at"])
    s = session_summary(events, now_ms, utc_offset_minutes)
    s.update(history_summary(events, now_ms))
    s.update(item_summary(events, now_ms, item_id, category))
    return s
