//! The database URL. It often carries a password (`postgres://tgate:pw@db/tgate`),
//! so it is its own type whose `Debug` and `Display` mask the password: a
//! logged config or a startup line can never leak it.

use std::fmt;

/// A `sqlite:` or `postgres:`/`postgresql:` URL. The backend is chosen from
/// the scheme. [`DatabaseUrl::as_str`] gives the full URL, password
/// included, for handing to the driver; everything else shows it masked.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Accepts only the schemes tgate has a backend for.
    pub fn parse(url: &str) -> Result<Self, String> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "sqlite" | "postgres" | "postgresql" => Ok(Self(url.to_owned())),
            _ => Err(
                "must start with sqlite: or postgres:// (e.g. \"sqlite://tgate.db\", \
                 \"postgres://tgate:…@db/tgate\")"
                    .to_owned(),
            ),
        }
    }

    /// The full URL, password included: only for connecting.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same as [`DatabaseUrl::as_str`], for call sites where saying
    /// "this reveals a secret" reads better.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_postgres(&self) -> bool {
        let lower = self.0.to_ascii_lowercase();
        lower.starts_with("postgres:") || lower.starts_with("postgresql:")
    }

    pub fn is_sqlite(&self) -> bool {
        !self.is_postgres()
    }

    /// The URL with the password in the user info and any `password=` or
    /// `sslpassword=` query parameter replaced by `****`.
    pub fn redacted(&self) -> String {
        let url = self.0.as_str();
        let (before_query, query) = match url.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (url, None),
        };
        let mut out = mask_userinfo(before_query);
        if let Some(query) = query {
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, _))
                        if name.eq_ignore_ascii_case("password")
                            || name.eq_ignore_ascii_case("sslpassword") =>
                    {
                        format!("{name}=****")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        out
    }
}

fn mask_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_len = url[start..].find(['/', '#']).unwrap_or(url.len() - start);
    let authority = &url[start..start + authority_len];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };
    format!("{}****{}", &url[..start + colon + 1], &url[start + at..])
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Default for DatabaseUrl {
    fn default() -> Self {
        Self("sqlite://tgate.db".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_schemes_tgate_has_backends_for() {
        for ok in [
            "sqlite://tgate.db",
            "sqlite::memory:",
            "SQLite:tgate.db",
            "postgres://db/tgate",
            "postgresql://u:p@db:5432/tgate",
        ] {
            assert!(DatabaseUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "tgate.db",
            "mysql://db/tgate",
            "http://db",
            "/var/lib/tgate.db",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(DatabaseUrl::parse("postgres://db/x").unwrap().is_postgres());
        assert!(
            DatabaseUrl::parse("postgresql://db/x")
                .unwrap()
                .is_postgres()
        );
        assert!(!DatabaseUrl::default().is_postgres());
        assert_eq!(DatabaseUrl::default().as_str(), "sqlite://tgate.db");
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let url = DatabaseUrl::parse("postgres://tgate:s3cr3t@db/tgate").unwrap();
        assert_eq!(url.to_string(), "postgres://tgate:****@db/tgate");
        assert_eq!(
            format!("{url:?}"),
            "DatabaseUrl(\"postgres://tgate:****@db/tgate\")"
        );
        assert_eq!(url.as_str(), "postgres://tgate:s3cr3t@db/tgate");

        let url =
            DatabaseUrl::parse("postgres://tgate:p@ss:w@rd@db:5432/tgate?sslmode=require").unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://tgate:****@db:5432/tgate?sslmode=require"
        );

        let url = DatabaseUrl::parse("postgres://db/tgate?user=u&password=hunter2").unwrap();
        assert_eq!(url.to_string(), "postgres://db/tgate?user=u&password=****");

        for plain in ["postgres://tgate@db/tgate", "sqlite://tgate.db"] {
            assert_eq!(DatabaseUrl::parse(plain).unwrap().to_string(), plain);
        }
    }
}
