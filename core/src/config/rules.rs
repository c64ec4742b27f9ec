//! Rules for single values: what a token, a host, a host key fingerprint or
//! a URL must look like. Each returns the reason a value is refused, written
//! for the operator, and never repeats a secret's content.

use std::net::IpAddr;

use ipnet::IpNet;

pub(super) fn at_least_16(len: usize) -> Result<(), String> {
    if len < 16 {
        return Err(format!(
            "must be at least 16 characters long (it has {len})"
        ));
    }
    Ok(())
}

/// Bearer tokens: long enough to resist guessing, and from an alphabet that
/// can be pasted into a RouterOS script or an HTTP header as is.
pub(super) fn check_token(token: &str) -> Result<(), String> {
    at_least_16(token.chars().count())?;
    if !token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~+/=".contains(c))
    {
        return Err(
            "may contain only letters, digits and - _ . ~ + / = (try `openssl rand -hex 24`)"
                .to_owned(),
        );
    }
    Ok(())
}

pub(super) fn check_bot_token(token: &str) -> Result<(), String> {
    let well_formed = token.split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !well_formed {
        return Err(
            "does not look like a bot token from @BotFather (<digits>:<letters, digits, _ or ->)"
                .to_owned(),
        );
    }
    Ok(())
}

pub(super) fn check_webhook_secret(secret: &str) -> Result<(), String> {
    let ok = secret.len() <= 256
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err("must be 1 to 256 letters, digits, _ or - (Telegram's rule)".to_owned());
    }
    Ok(())
}

pub(super) fn http_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("{url:?} is not a URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

pub(super) fn check_host(host: &str) -> Result<String, String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(host.to_owned());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!("{host:?} is not an IP address or a host name"));
    }
    Ok(host.to_owned())
}

pub(super) fn check_user(user: &str) -> Result<String, String> {
    if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{user:?} contains spaces or control characters"));
    }
    Ok(user.to_owned())
}

/// `SHA256:` and the base64 (no padding) of 32 bytes, as `ssh-keygen -lf`
/// and RouterOS print a host key's fingerprint.
pub(super) fn check_host_key(key: &str) -> Result<String, String> {
    use base64::Engine;
    let wrong = || {
        format!(
            "{key:?} is not a SHA-256 host key fingerprint: expected \"SHA256:\" and 43 base64 \
             characters, as `ssh-keygen -lf` prints it"
        )
    };
    let digest = key.strip_prefix("SHA256:").ok_or_else(wrong)?;
    if digest.len() != 43 {
        return Err(wrong());
    }
    match base64::engine::general_purpose::STANDARD_NO_PAD.decode(digest) {
        Ok(bytes) if bytes.len() == 32 => Ok(key.to_owned()),
        _ => Err(wrong()),
    }
}

/// An address or network; a bare address is a single-host network. A
/// network written with host bits (`192.0.2.1/24`) is refused rather than
/// guessed at: it is more often a typo than a shorthand.
pub(super) fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address or a network such as \"192.0.2.0/24\""))?;
    if net.trunc() != net {
        return Err(format!(
            "{s:?} has host bits set; did you mean \"{}\"?",
            net.trunc()
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_accept_bare_addresses_and_refuse_host_bits() {
        assert_eq!(
            parse_net("192.0.2.7").unwrap(),
            "192.0.2.7/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_net("2001:db8::1").unwrap(),
            "2001:db8::1/128".parse::<IpNet>().unwrap()
        );
        assert!(parse_net("10.0.0.0/8").is_ok());
        let err = parse_net("192.0.2.1/24").unwrap_err();
        assert!(err.contains("did you mean \"192.0.2.0/24\""), "{err}");
        assert!(parse_net("10.0.0.256").is_err());
    }

    #[test]
    fn host_keys_are_sha256_fingerprints() {
        let good = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
        assert!(check_host_key(good).is_ok());
        for bad in [
            "",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U",
            "MD5:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e",
        ] {
            assert!(check_host_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hosts_are_addresses_or_names() {
        for good in [
            "192.0.2.1",
            "2001:db8::1",
            "router.example.com",
            "gw-1",
            "gw.",
        ] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "-gw", "gw_1", "192.0.2.1:22", "a..b"] {
            assert!(check_host(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tokens_are_long_and_script_safe() {
        assert!(check_token("0123456789abcdef").is_ok());
        assert!(check_token("short").is_err());
        assert!(check_token("0123456789abcdef\"; /system reset").is_err());
        assert!(check_bot_token("123:abc").is_ok());
        assert!(check_bot_token("123456:AA-bb_Cc").is_ok());
        assert!(check_bot_token("abc").is_err());
        assert!(check_bot_token(":abc").is_err());
        assert!(check_webhook_secret("my_Secret-1").is_ok());
        assert!(check_webhook_secret("no spaces").is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert_eq!(
            http_url("https://gate.example.com/").unwrap(),
            "https://gate.example.com"
        );
        assert!(http_url("http://127.0.0.1:8081").is_ok());
        for bad in [
            "gate.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
        ] {
            assert!(http_url(bad).is_err(), "{bad:?} accepted");
        }
    }
}
