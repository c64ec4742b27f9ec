//! The languages tgate speaks. An owner's language comes from `/language`,
//! else from the `language_code` Telegram reports for them; anything tgate
//! does not speak falls back to English.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::InvalidValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// From Telegram's IETF `language_code` (`ru`, `ru-RU`, `en-GB`…).
    pub fn from_telegram(code: Option<&str>) -> Lang {
        code.and_then(|c| c.split(['-', '_']).next())
            .and_then(|c| c.parse().ok())
            .unwrap_or_default()
    }
}

impl FromStr for Lang {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| InvalidValue {
                reason: "unknown language (en, ru)".into(),
            })
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_codes_map_to_what_tgate_speaks() {
        assert_eq!(Lang::from_telegram(Some("ru-RU")), Lang::Ru);
        assert_eq!(Lang::from_telegram(Some("en-GB")), Lang::En);
        assert_eq!(Lang::from_telegram(Some("de")), Lang::En);
        assert_eq!(Lang::from_telegram(None), Lang::En);
    }
}
