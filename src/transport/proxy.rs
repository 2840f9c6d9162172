//! Proxies: mcpstorm connects to the endpoint directly, always (a proxy
//! between would be measured as the server). When the environment names a
//! proxy for the URL's scheme (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, in
//! either case, as curl reads them) and `NO_PROXY` does not exempt the
//! host, the run is refused with what to do, rather than going around a
//! proxy the network may require. Loopback is never proxied.

/// The proxy variable that would route `host` (for `scheme`), if one does:
/// its name.
pub fn would_route(
    scheme: &str,
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if is_loopback(host) {
        return None;
    }
    let no_proxy = env("no_proxy")
        .or_else(|| env("NO_PROXY"))
        .unwrap_or_default();
    if exempt(host, &no_proxy) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let names = [
        format!("{scheme}_proxy"),
        format!("{}_PROXY", scheme.to_ascii_uppercase()),
        "all_proxy".to_string(),
        "ALL_PROXY".to_string(),
    ];
    names
        .into_iter()
        // curl reads only the lowercase http_proxy (CGI's HTTP_PROXY is a
        // request header); both are refused here, to be safe.
        .find(|name| env(name).is_some_and(|value| !value.trim().is_empty()))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether NO_PROXY (comma-separated names, `.suffix`es, `*`) exempts `host`.
fn exempt(host: &str, no_proxy: &str) -> bool {
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            // A port after a name is not compared.
            let entry = entry.split(':').next().unwrap_or(entry);
            let suffix = entry.trim_start_matches('.');
            entry == "*"
                || host.eq_ignore_ascii_case(suffix)
                || host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", suffix.to_ascii_lowercase()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_proxy_for_the_scheme_routes_unless_no_proxy_or_loopback_exempts() {
        let set = env(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", ".internal,example.org"),
        ]);
        assert_eq!(
            would_route("https", "mcp.example.com", &set).as_deref(),
            Some("HTTPS_PROXY")
        );
        assert_eq!(would_route("https", "a.b.internal", &set), None);
        assert_eq!(would_route("https", "example.org", &set), None);
        assert_eq!(would_route("https", "127.0.0.1", &set), None);
        assert_eq!(would_route("https", "[::1]", &set), None);
        assert_eq!(would_route("https", "localhost", &set), None);
        // Another scheme's proxy does not route this one.
        assert_eq!(would_route("http", "mcp.example.com", &set), None);
        let all = env(&[("all_proxy", "socks5://p:1080"), ("no_proxy", "*")]);
        assert_eq!(would_route("http", "mcp.example.com", &all), None);
        let all = env(&[("all_proxy", "socks5://p:1080")]);
        assert_eq!(
            would_route("http", "mcp.example.com", &all).as_deref(),
            Some("all_proxy")
        );
        assert_eq!(would_route("http", "mcp.example.com", &env(&[])), None);
    }
}
