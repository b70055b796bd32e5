//! Measurement reports as JSON: written by devices, read by collectors. The form is flat —
//! `bits` (OUE) or `value` (GRR) beside the `mechanism` that names which — and read through that
//! form, so a report that carries both, neither or the other mechanism's payload is refused with
//! its own message before it becomes a typed [`Report`].

use crate::ldp::{DomainVersion, Mechanism, Randomized, Report};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The JSON fields of a report, in their order on the wire; `S` is `String` when reading and
/// `&str` when writing. Serde's messages name it `Report`, as they did when it was one.
#[derive(Serialize, Deserialize)]
#[serde(
    rename = "Report",
    expecting = "struct Report",
    rename_all = "camelCase",
    deny_unknown_fields
)]
struct ReportFields<S> {
    day: S,
    mechanism: Mechanism,
    epsilon: f64,
    domain: S,
    domain_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bits: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<usize>,
}

/// Why JSON is not a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportReadError {
    /// Missing, unknown or mistyped fields (serde's account of them).
    #[error("{0}")]
    NotAReport(serde_json::Error),
    /// A `domainVersion` no report format has. Collectors name the version they expected.
    #[error("domain version {0} is not a report format (1 or 2)")]
    UnknownDomainVersion(u32),
    /// `bits` and `value` both, neither, or the one the mechanism does not send.
    #[error("a {} report carries exactly one of `bits` (oue) or `value` (grr): `{}`", .0.as_str(), payload_field(*.0))]
    PayloadMismatch(Mechanism),
}

/// The field that carries a mechanism's payload.
fn payload_field(mechanism: Mechanism) -> &'static str {
    match mechanism {
        Mechanism::Oue => "bits",
        Mechanism::Grr => "value",
    }
}

impl Report {
    /// A report from JSON text (a line of a reports file).
    pub fn from_json_str(text: &str) -> Result<Report, ReportReadError> {
        serde_json::from_str::<ReportFields<String>>(text)
            .map_err(ReportReadError::NotAReport)?
            .try_into()
    }

    /// A report from a JSON document (one element of a batch).
    pub fn from_json(v: serde_json::Value) -> Result<Report, ReportReadError> {
        serde_json::from_value::<ReportFields<String>>(v)
            .map_err(ReportReadError::NotAReport)?
            .try_into()
    }
}

impl TryFrom<ReportFields<String>> for Report {
    type Error = ReportReadError;

    fn try_from(f: ReportFields<String>) -> Result<Report, ReportReadError> {
        let domain_version = DomainVersion::from_number(f.domain_version)
            .ok_or(ReportReadError::UnknownDomainVersion(f.domain_version))?;
        let randomized = match (f.mechanism, f.bits, f.value) {
            (Mechanism::Oue, Some(bits), None) => Randomized::Bits(bits),
            (Mechanism::Grr, None, Some(value)) => Randomized::Value(value),
            (m, _, _) => return Err(ReportReadError::PayloadMismatch(m)),
        };
        Ok(Report {
            day: f.day,
            epsilon: f.epsilon,
            domain: f.domain,
            domain_version,
            step: f.step,
            randomized,
        })
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (bits, value) = match &self.randomized {
            Randomized::Bits(bits) => (Some(bits.as_str()), None),
            Randomized::Value(v) => (None, Some(*v)),
        };
        ReportFields {
            day: self.day.as_str(),
            mechanism: self.mechanism(),
            epsilon: self.epsilon,
            domain: self.domain.as_str(),
            domain_version: self.domain_version.number(),
            step: self.step,
            bits,
            value,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Report, D::Error> {
        ReportFields::<String>::deserialize(d)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldp::{Domain, Payload};
    use crate::policy::Policy;

    const OUE: &str = r#"{"day":"2026-11-29","mechanism":"oue","epsilon":2.0,"domain":"arm=control,treatment;step%=0,5,10,15,20;converted=no,yes;segment=new,returning","domainVersion":1,"bits":"1000000000100001000000010001011000010001"}"#;
    const GRR: &str = r#"{"day":"2026-12-01","mechanism":"grr","epsilon":2.0,"domain":"arm=explore;step%=0,5,10,15,20;converted=no,yes;interest=0-0.05,0.05-0.15,0.15-0.3,0.3-0.5,0.5-0.7,0.7-1","domainVersion":2,"step":3,"value":8}"#;

    #[test]
    fn reports_read_and_write_the_same_bytes() {
        for text in [OUE, GRR] {
            let r = Report::from_json_str(text).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), text);
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(Report::from_json(v.clone()).unwrap(), r);
            assert_eq!(serde_json::from_value::<Report>(v).unwrap(), r);
        }
        let r = Report::from_json_str(GRR).unwrap();
        assert_eq!(
            (r.mechanism(), r.domain_version, r.step, &r.randomized),
            (
                Mechanism::Grr,
                DomainVersion::Learning,
                Some(3),
                &Randomized::Value(8)
            )
        );
        let d = Domain::for_policy(&Policy::default_policy());
        let made = Report::new("2026-11-29".into(), &d, 2.0, &Payload::Bits(vec![0, 39]));
        let text = serde_json::to_string(&made).unwrap();
        assert!(text.starts_with(
            r#"{"day":"2026-11-29","mechanism":"oue","epsilon":2.0,"domain":"arm=control"#
        ));
        assert!(text
            .ends_with(r#","domainVersion":1,"bits":"1000000000000000000000000000000000000001"}"#));
    }

    #[test]
    fn a_payload_that_is_not_the_mechanisms_is_refused_by_name() {
        let oue_with_value = OUE.replacen("\"bits\"", "\"value\":3,\"bits\"", 1);
        let grr_with_bits = GRR.replacen("\"value\":8", "\"bits\":\"01\"", 1);
        let grr_without = GRR.replacen(",\"value\":8", "", 1);
        for (text, message) in [
            (
                &oue_with_value,
                "a oue report carries exactly one of `bits` (oue) or `value` (grr): `bits`",
            ),
            (
                &grr_with_bits,
                "a grr report carries exactly one of `bits` (oue) or `value` (grr): `value`",
            ),
            (
                &grr_without,
                "a grr report carries exactly one of `bits` (oue) or `value` (grr): `value`",
            ),
        ] {
            let e = Report::from_json_str(text).unwrap_err();
            assert!(matches!(e, ReportReadError::PayloadMismatch(_)), "{e}");
            assert_eq!(e.to_string(), message);
        }
        let e = Report::from_json_str(&OUE.replace("\"domainVersion\":1", "\"domainVersion\":3"))
            .unwrap_err();
        assert!(matches!(e, ReportReadError::UnknownDomainVersion(3)), "{e}");
        // Fields beyond the listed ones, missing or mistyped ones: serde's message, naming the field.
        for (text, names) in [
            (OUE.replacen('{', "{\"itemId\":\"sku-1\",", 1), "unknown field `itemId`, expected one of `day`, `mechanism`, `epsilon`, `domain`, `domainVersion`, `step`, `bits`, `value`"),
            (OUE.replacen("\"day\":\"2026-11-29\",", "", 1), "missing field `day`"),
            ("\"x\"".to_string(), "invalid type: string \"x\", expected struct Report"),
        ] {
            let e = Report::from_json_str(&text).unwrap_err();
            assert!(matches!(e, ReportReadError::NotAReport(_)), "{e}");
            assert!(e.to_string().starts_with(names), "{e}");
        }
    }
}
