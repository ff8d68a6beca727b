//! Integers in JSON bodies. JSON Schema counts `5.0` as the integer 5 and
//! clients generated from an OpenAPI document may send it so; these
//! deserializers accept an integral number in any JSON spelling and refuse
//! fractions, negatives and values out of range with a clear message. The
//! range is 0..=2^63−1 (`int64` in the OpenAPI document): every backend
//! stores positions and versions in 64-bit signed columns or fits them.
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct Body {
//!     #[serde(deserialize_with = "chronicle_core::json_int::u64")]
//!     position: u64,
//! }
//! let b: Body = serde_json::from_str(r#"{"position": 82054.0}"#).unwrap();
//! assert_eq!(b.position, 82054);
//! assert!(serde_json::from_str::<Body>(r#"{"position": 1.5}"#).is_err());
//! assert!(serde_json::from_str::<Body>(r#"{"position": -1}"#).is_err());
//! assert!(serde_json::from_str::<Body>(r#"{"position": 9223372036854775808}"#).is_err());
//! ```

use serde::{Deserializer, de};
use std::fmt;

/// The largest accepted value: 2^63 − 1.
const MAX: u64 = i64::MAX as u64;

struct Whole;

impl de::Visitor<'_> for Whole {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number ≥ 0")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v > MAX {
            return Err(E::custom(format!("{v} is larger than {MAX}")));
        }
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative; expected a whole number ≥ 0")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // 2^63 as f64; every integral f64 below it converts exactly.
        if v.fract() == 0.0 && (0.0..9_223_372_036_854_775_808.0).contains(&v) {
            Ok(v as u64)
        } else {
            Err(E::custom(format!("{v} is not a whole number ≥ 0")))
        }
    }
}

/// A `u64` written as `5` or `5.0`.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(Whole)
}

/// An optional `u64` written as `5` or `5.0` (or `null`).
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Opt;
    impl<'de> de::Visitor<'de> for Opt {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number ≥ 0 or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            u64(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// A `u32` written as `5` or `5.0`.
pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u64(d)?;
    u32::try_from(v).map_err(|_| de::Error::custom(format!("{v} is larger than {}", u32::MAX)))
}

/// An optional `u32` written as `5` or `5.0` (or `null`).
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match opt_u64(d)? {
        None => Ok(None),
        Some(v) => u32::try_from(v).map(Some).map_err(|_| de::Error::custom(format!("{v} is larger than {}", u32::MAX))),
    }
}
