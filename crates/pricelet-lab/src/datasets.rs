//! The two real datasets, as typed rows: one reader per dataset, used by every command that reads
//! them (`evaluate`, `simulate`, `ldp-simulate`, `fairness`), so a column means the same everywhere.
//! Boolean columns read `TRUE`/`FALSE` and `1`/`0` in any case; numbers must be finite.

use pricelet::features::{HistorySummary, SessionSummary};
use serde::{Deserialize, Deserializer};

/// A boolean column: `TRUE`/`FALSE` (Online Shoppers) or `1`/`0` (Hillstrom), any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_uppercase().as_str() {
            "TRUE" | "1" => Ok(Flag(true)),
            "FALSE" | "0" => Ok(Flag(false)),
            _ => Err(serde::de::Error::custom(format!(
                "{} is not TRUE/FALSE or 1/0",
                pricelet::error::quoted(&s)
            ))),
        }
    }
}

fn finite<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = String::deserialize(d)?;
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{} is not a finite number",
                pricelet::error::quoted(&s)
            ))
        })
}

fn month<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let s = String::deserialize(d)?;
    let m = match s.trim() {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "June" | "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => {
            return Err(serde::de::Error::custom(format!(
                "unknown month {}",
                pricelet::error::quoted(&s)
            )))
        }
    };
    Ok(m)
}

/// One session of UCI's Online Shoppers Purchasing Intention data (the columns pricelet uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShopperSession {
    #[serde(rename = "Administrative", deserialize_with = "finite")]
    pub administrative: f64,
    #[serde(rename = "Administrative_Duration", deserialize_with = "finite")]
    pub administrative_duration: f64,
    #[serde(rename = "Informational", deserialize_with = "finite")]
    pub informational: f64,
    #[serde(rename = "Informational_Duration", deserialize_with = "finite")]
    pub informational_duration: f64,
    #[serde(rename = "ProductRelated", deserialize_with = "finite")]
    pub product_related: f64,
    #[serde(rename = "ProductRelated_Duration", deserialize_with = "finite")]
    pub product_related_duration: f64,
    #[serde(rename = "BounceRates", deserialize_with = "finite")]
    pub bounce_rates: f64,
    #[serde(rename = "ExitRates", deserialize_with = "finite")]
    pub exit_rates: f64,
    #[serde(rename = "PageValues", deserialize_with = "finite")]
    pub page_values: f64,
    #[serde(rename = "SpecialDay", deserialize_with = "finite")]
    pub special_day: f64,
    /// 1–12.
    #[serde(rename = "Month", deserialize_with = "month")]
    pub month: u8,
    /// `Returning_Visitor`, `New_Visitor` or `Other`.
    #[serde(rename = "VisitorType")]
    pub visitor_type: String,
    #[serde(rename = "Weekend")]
    pub weekend: Flag,
    /// The session ended in a purchase (at list price: the data has no price variation).
    #[serde(rename = "Revenue")]
    pub revenue: Flag,
}

impl ShopperSession {
    pub fn returning(&self) -> bool {
        self.visitor_type.trim() == "Returning_Visitor"
    }

    /// The session as the model sees it (the same summary the device computes from its log).
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            admin_pages: self.administrative,
            admin_seconds: self.administrative_duration,
            info_pages: self.informational,
            info_seconds: self.informational_duration,
            product_pages: self.product_related,
            product_seconds: self.product_related_duration,
            bounce_rate_avg: self.bounce_rates,
            exit_rate_avg: self.exit_rates,
            page_value_avg: self.page_values,
            special_day: self.special_day,
            month: f64::from(self.month),
            weekend: f64::from(u8::from(self.weekend.0)),
            returning_visitor: f64::from(u8::from(self.returning())),
        }
    }
}

/// The arm of Hillstrom's randomized e-mail test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HillstromSegment {
    #[serde(rename = "Womens E-Mail")]
    WomensEmail,
    #[serde(rename = "Mens E-Mail")]
    MensEmail,
    #[serde(rename = "No E-Mail")]
    NoEmail,
}

impl HillstromSegment {
    /// The comparison pricelet uses: Womens E-Mail (treated) vs No E-Mail; Mens E-Mail is left out.
    pub fn treated(self) -> Option<bool> {
        match self {
            HillstromSegment::WomensEmail => Some(true),
            HillstromSegment::NoEmail => Some(false),
            HillstromSegment::MensEmail => None,
        }
    }
}

/// One customer of Kevin Hillstrom's MineThatData e-mail test (the columns pricelet uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HillstromCustomer {
    #[serde(deserialize_with = "finite")]
    pub recency: f64,
    /// Spend in the past year ($).
    #[serde(deserialize_with = "finite")]
    pub history: f64,
    pub mens: Flag,
    pub womens: Flag,
    pub newbie: Flag,
    pub segment: HillstromSegment,
    pub visit: Flag,
    pub conversion: Flag,
    #[serde(deserialize_with = "finite")]
    pub spend: f64,
}

impl HillstromCustomer {
    pub fn history_summary(&self) -> HistorySummary {
        let flag = |f: Flag| f64::from(u8::from(f.0));
        HistorySummary {
            recency_months: self.recency,
            spend_12m: self.history,
            bought_mens: flag(self.mens),
            bought_womens: flag(self.womens),
            new_customer: flag(self.newbie),
        }
    }

    /// `visit` or `conversion`.
    pub fn outcome(&self, name: &str) -> Option<bool> {
        match name {
            "visit" => Some(self.visit.0),
            "conversion" => Some(self.conversion.0),
            _ => None,
        }
    }
}

/// Why a dataset could not be read: each names the file, the row and the column it can.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {}: {source}", path.display())]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// An error inside a named file.
    #[error("{}: {inner}", path.display())]
    InFile {
        path: std::path::PathBuf,
        inner: Box<DatasetError>,
    },
    #[error("{0}")]
    Header(csv::Error),
    #[error("neither a `Revenue` column (Online Shoppers layout) nor `segment` and `visit` columns (Hillstrom layout)")]
    UnknownLayout,
    #[error("row {row}: {source}")]
    Record { row: usize, source: csv::Error },
    /// A cell that does not read as its column's type (`column` None: the row as a whole).
    #[error("row {row}: {}{why}", column.as_ref().map(|c| format!("column {c}: ")).unwrap_or_default())]
    Cell {
        row: usize,
        column: Option<String>,
        why: String,
    },
}

/// A dataset file, its layout detected from the header.
#[derive(Debug, Clone)]
pub enum Dataset {
    OnlineShoppers(Vec<ShopperSession>),
    Hillstrom(Vec<HillstromCustomer>),
}

impl Dataset {
    /// Reads a CSV file of either dataset; every error names the file, the row and the column.
    pub fn read(path: &std::path::Path) -> Result<Dataset, DatasetError> {
        let file = std::fs::File::open(path).map_err(|source| DatasetError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Dataset::from_reader(file).map_err(|e| DatasetError::InFile {
            path: path.to_path_buf(),
            inner: Box::new(e),
        })
    }

    pub fn from_reader<R: std::io::Read>(input: R) -> Result<Dataset, DatasetError> {
        let mut reader = csv::Reader::from_reader(input);
        let headers = reader.headers().map_err(DatasetError::Header)?.clone();
        let has = |c: &str| headers.iter().any(|h| h == c);
        if has("Revenue") {
            Ok(Dataset::OnlineShoppers(rows(&mut reader, &headers)?))
        } else if has("segment") && has("visit") {
            Ok(Dataset::Hillstrom(rows(&mut reader, &headers)?))
        } else {
            Err(DatasetError::UnknownLayout)
        }
    }

    pub fn layout(&self) -> &'static str {
        match self {
            Dataset::OnlineShoppers(_) => "online_shoppers",
            Dataset::Hillstrom(_) => "hillstrom",
        }
    }
}

fn rows<T: serde::de::DeserializeOwned, R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    headers: &csv::StringRecord,
) -> Result<Vec<T>, DatasetError> {
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|source| DatasetError::Record { row: i + 1, source })?;
        // Column name → text, deserialized through serde_path_to_error so an error names its column.
        let cells = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
            headers.iter().zip(record.iter()),
        );
        let row = serde_path_to_error::deserialize(cells).map_err(|e| {
            let column = Some(e.path().to_string()).filter(|c| c != ".");
            DatasetError::Cell {
                row: i + 1,
                column,
                why: e.into_inner().to_string(),
            }
        })?;
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOPPERS: &str = "Administrative,Administrative_Duration,Informational,Informational_Duration,ProductRelated,ProductRelated_Duration,BounceRates,ExitRates,PageValues,SpecialDay,Month,OperatingSystems,Browser,Region,TrafficType,VisitorType,Weekend,Revenue\n";

    #[test]
    fn flags_read_true_false_and_one_zero_alike() {
        let text = format!(
            "{SHOPPERS}0,0,0,0,2,80,0,0.02,0,0,Feb,1,1,1,1,New_Visitor,TRUE,1\n0,0,0,0,2,80,0,0.02,0,0,Jun,1,1,1,1,Returning_Visitor,0,false\n"
        );
        let Dataset::OnlineShoppers(rows) = Dataset::from_reader(text.as_bytes()).unwrap() else {
            panic!("layout")
        };
        assert_eq!(
            rows.iter()
                .map(|r| (r.weekend.0, r.revenue.0, r.month, r.returning()))
                .collect::<Vec<_>>(),
            [(true, true, 2, false), (false, false, 6, true)]
        );
    }

    #[test]
    fn errors_name_the_row_and_column() {
        for (row, needle) in [
            (
                "0,0,0,0,2,80,0,0.02,0,0,Feb,1,1,1,1,New_Visitor,yes,0",
                "row 1: column Weekend: \"yes\" is not TRUE/FALSE or 1/0",
            ),
            (
                "0,0,0,0,2,NaN,0,0.02,0,0,Feb,1,1,1,1,New_Visitor,TRUE,0",
                "row 1: column ProductRelated_Duration: \"NaN\" is not a finite number",
            ),
            (
                "0,0,0,0,2,80,0,0.02,0,0,Smarch,1,1,1,1,New_Visitor,TRUE,0",
                "column Month: unknown month \"Smarch\"",
            ),
        ] {
            let err = Dataset::from_reader(format!("{SHOPPERS}{row}\n").as_bytes()).unwrap_err();
            assert!(matches!(err, DatasetError::Cell { row: 1, .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
        }
        let err = Dataset::from_reader("recency,history,mens,womens,newbie,segment,visit,conversion,spend\n1,20,0,1,1,Kids E-Mail,0,0,0\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("row 1: column segment:"), "{err}");
        let err = Dataset::from_reader("a,b\n1,2\n".as_bytes()).unwrap_err();
        assert!(matches!(err, DatasetError::UnknownLayout), "{err:?}");
        assert!(err.to_string().starts_with("neither"));
        let missing = std::path::Path::new("no-such-dir/no-such.csv");
        let err = Dataset::read(missing).unwrap_err();
        assert!(matches!(err, DatasetError::Open { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot read no-such-dir/no-such.csv: "),
            "{err}"
        );
    }
}
