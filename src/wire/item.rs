//! Items as storefronts send them: JSON products read into exact minor units, every bad field
//! named. Unknown fields (name, image, ...) are ignored: storefronts pass whole products.

use super::json::{decimal, kind};
use crate::error::quoted;
use crate::error::{Code, Error, Result};
use crate::item::Item;
use crate::limits;
use crate::money::Currency;
use serde_json::Value;

impl Item {
    /// Parses an item. Unknown fields (name, image, ...) are ignored: storefronts pass whole products.
    pub fn from_json(v: &Value) -> Result<Item> {
        let obj = v.as_object().ok_or_else(|| {
            Error::new(
                Code::InvalidItem,
                format!(
                    "an item must be an object like {{ id, price, currency }}, not {}",
                    kind(v)
                ),
            )
        })?;
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(Value::String(_)) => {
                return Err(Error::at(
                    Code::InvalidItem,
                    "id",
                    "item `id` is empty: give every item a non-empty id",
                ))
            }
            None | Some(Value::Null) => {
                return Err(Error::at(
                    Code::InvalidItem,
                    "id",
                    "item has no `id`: give every item a non-empty string id",
                ))
            }
            Some(other) => {
                return Err(Error::at(
                    Code::InvalidItem,
                    "id",
                    format!("item `id` must be a string, not {}", kind(other)),
                ))
            }
        };
        limits::check_str("id", &id, limits::MAX_ID_LEN)?;
        let currency = match obj.get("currency") {
            Some(Value::String(c)) => Currency::from_code(c)?,
            None | Some(Value::Null) => {
                return Err(Error::at(
                    Code::UnknownCurrency,
                    "currency",
                    format!(
                        "item {} has no `currency`: add an ISO 4217 code such as \"EUR\"",
                        quoted(&id)
                    ),
                ))
            }
            Some(other) => {
                return Err(Error::at(
                    Code::UnknownCurrency,
                    "currency",
                    format!(
                        "`currency` must be a string such as \"EUR\", not {}",
                        kind(other)
                    ),
                ))
            }
        };
        let amount = |field: &str, required: bool| -> Result<Option<i64>> {
            match obj.get(field) {
                None | Some(Value::Null) if !required => Ok(None),
                None | Some(Value::Null) => Err(Error::at(
                    Code::InvalidPrice,
                    field,
                    format!("item {} has no `{field}`: give it in major units, e.g. 129.99 or \"129.99\"", quoted(&id)),
                )),
                Some(v) => decimal(v)
                    .and_then(|d| currency.parse_major(&d))
                    .map(Some)
                    .map_err(|why| Error::at(Code::InvalidPrice, field, format!("item {}: `{field}` {why}", quoted(&id)))),
            }
        };
        let list_minor = amount("price", true)?.unwrap_or_default();
        let cost_minor = amount("cost", false)?;
        let floor_minor = amount("floorPrice", false)?;
        let category = match obj.get("category") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                limits::check_str("category", s, limits::MAX_NAME_LEN)?;
                Some(s.clone())
            }
            Some(other) => {
                return Err(Error::at(
                    Code::InvalidItem,
                    "category",
                    format!("`category` must be a string, not {}", kind(other)),
                ))
            }
        };
        let tags = match obj.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                if a.len() > limits::MAX_TAGS {
                    return Err(Error::limit("tags", "the number of tags", limits::MAX_TAGS));
                }
                a.iter()
                    .enumerate()
                    .map(|(i, t)| match t {
                        Value::String(s) => {
                            limits::check_str(&format!("tags[{i}]"), s, limits::MAX_NAME_LEN)
                                .map(|_| s.clone())
                        }
                        other => Err(Error::at(
                            Code::InvalidItem,
                            format!("tags[{i}]"),
                            format!("tags must be strings, not {}", kind(other)),
                        )),
                    })
                    .collect::<Result<_>>()?
            }
            Some(other) => {
                return Err(Error::at(
                    Code::InvalidItem,
                    "tags",
                    format!("`tags` must be an array of strings, not {}", kind(other)),
                ))
            }
        };
        Ok(Item {
            id,
            currency,
            list_minor,
            category,
            cost_minor,
            floor_minor,
            tags,
        })
    }

    /// The item's id as found in arbitrary JSON, for error slots of a batch (`{ itemId, error }`).
    pub fn id_of(v: &Value) -> Option<String> {
        match v.get("id")? {
            Value::String(s) => Some(s.chars().take(limits::MAX_ID_LEN).collect()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> Error {
        Item::from_json(&v).unwrap_err()
    }

    #[test]
    fn parses_a_full_item() {
        let item = Item::from_json(
            &json!({"id": "sku-1", "price": "129.99", "currency": "EUR", "category": "shoes",
            "cost": 60, "floorPrice": 99.5, "tags": ["new"], "name": "ignored"}),
        )
        .unwrap();
        assert_eq!(item.list_minor, 12999);
        assert_eq!(item.cost_minor, Some(6000));
        assert_eq!(item.floor_minor, Some(9950));
        assert_eq!(item.tags, vec!["new".to_string()]);
    }

    #[test]
    fn names_every_bad_field() {
        let cases = [
            (
                json!({"price": 1, "currency": "EUR"}),
                Code::InvalidItem,
                "id",
            ),
            (
                json!({"id": "", "price": 1, "currency": "EUR"}),
                Code::InvalidItem,
                "id",
            ),
            (
                json!({"id": "a", "currency": "EUR"}),
                Code::InvalidPrice,
                "price",
            ),
            (
                json!({"id": "a", "price": -1, "currency": "EUR"}),
                Code::InvalidPrice,
                "price",
            ),
            (
                json!({"id": "a", "price": "abc", "currency": "EUR"}),
                Code::InvalidPrice,
                "price",
            ),
            (
                json!({"id": "a", "price": "1.999", "currency": "EUR"}),
                Code::InvalidPrice,
                "price",
            ),
            (
                json!({"id": "a", "price": 100.5, "currency": "JPY"}),
                Code::InvalidPrice,
                "price",
            ),
            (
                json!({"id": "a", "price": 1, "currency": "XYZ"}),
                Code::UnknownCurrency,
                "currency",
            ),
            (
                json!({"id": "a", "price": 1}),
                Code::UnknownCurrency,
                "currency",
            ),
            (
                json!({"id": "a", "price": 1, "currency": "EUR", "cost": "x"}),
                Code::InvalidPrice,
                "cost",
            ),
            (
                json!({"id": "a", "price": 1, "currency": "EUR", "floorPrice": true}),
                Code::InvalidPrice,
                "floorPrice",
            ),
            (
                json!({"id": "a", "price": 1, "currency": "EUR", "category": 3}),
                Code::InvalidItem,
                "category",
            ),
            (
                json!({"id": "a", "price": 1, "currency": "EUR", "tags": [1]}),
                Code::InvalidItem,
                "tags[0]",
            ),
            (
                json!({"id": "x".repeat(300), "price": 1, "currency": "EUR"}),
                Code::LimitExceeded,
                "id",
            ),
        ];
        for (v, code, field) in cases {
            let e = err(v.clone());
            assert_eq!(
                (e.code, e.field.as_deref()),
                (code, Some(field)),
                "{v}: {e}"
            );
        }
        assert_eq!(err(json!("sku")).code, Code::InvalidItem);
    }
}
