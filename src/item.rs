//! A catalog item in exact minor units (read from JSON, every bad field named, by `wire::item`).

use crate::money::Currency;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub currency: Currency,
    pub list_minor: i64,
    pub category: Option<String>,
    pub cost_minor: Option<i64>,
    pub floor_minor: Option<i64>,
    pub tags: Vec<String>,
}
