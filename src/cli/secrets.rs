//! Secrets given to mcpstorm for the server: `--env`, `--env-file`,
//! `--header`, `--header-file`, a password in `--url`, a bearer token and
//! an OAuth client's secret. They are parsed
//! here rather than by clap, whose "invalid value '…'" would repeat a
//! mistyped value; no message below ever shows one. Off the command line
//! (where any process on the machine can read `/proc/PID/cmdline`), a
//! secret comes from a file, or from mcpstorm's own environment
//! (`--env NAME`).

use std::path::Path;

use base64::Engine;
use http::{HeaderName, HeaderValue, Uri};

use super::TargetArgs;
use crate::transport::OAuthClient;

/// The longest secrets file read: such a file holds a few lines.
const FILE_BYTES: u64 = 1024 * 1024;

/// The server's extra environment: `--env NAME=VALUE`, `--env NAME` (the
/// value of NAME in mcpstorm's environment), then the `--env-file`s.
pub fn environment(args: &TargetArgs) -> Result<Vec<(String, String)>, String> {
    let mut environment = Vec::new();
    for (index, spec) in args.env.iter().enumerate() {
        let place = || format!("the {} --env", ordinal(index + 1));
        match spec.split_once('=') {
            Some((name, value)) if is_variable_name(name) => {
                environment.push((name.to_string(), value.to_string()))
            }
            Some(_) => {
                return Err(format!(
                    "{}: expected NAME=VALUE, with a variable name before `=` \
                     (the value is not shown)",
                    place()
                ));
            }
            None if is_variable_name(spec) => match std::env::var(spec) {
                Ok(value) => environment.push((spec.clone(), value)),
                Err(_) => {
                    return Err(format!(
                        "{}: {} is not set in mcpstorm's environment",
                        place(),
                        shown_name(spec)
                    ));
                }
            },
            None => {
                return Err(format!(
                    "{}: expected NAME=VALUE, or NAME to pass on a variable of \
                     mcpstorm's environment (what was given is not shown: it may be a secret)",
                    place()
                ));
            }
        }
    }
    for file in &args.env_files {
        for (line_number, line) in secret_lines(file, "--env-file")? {
            match line.split_once('=') {
                Some((name, value)) if is_variable_name(name.trim()) => {
                    environment.push((name.trim().to_string(), value.to_string()))
                }
                _ => {
                    return Err(format!(
                        "--env-file {}: line {line_number}: expected NAME=VALUE \
                         (the line is not shown)",
                        file.display()
                    ));
                }
            }
        }
    }
    Ok(environment)
}

/// The headers sent with every HTTP request: `--header`, then the
/// `--header-file`s. Values are marked sensitive.
pub fn headers(args: &TargetArgs) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut headers = Vec::new();
    for (index, spec) in args.headers.iter().enumerate() {
        headers.push(header(spec).ok_or_else(|| {
            format!(
                "the {} --header: expected 'Name: value' with a valid name and value \
                 (the value is not shown){}",
                ordinal(index + 1),
                named(spec)
            )
        })?);
    }
    for file in &args.header_files {
        for (line_number, line) in secret_lines(file, "--header-file")? {
            headers.push(header(&line).ok_or_else(|| {
                format!(
                    "--header-file {}: line {line_number}: expected 'Name: value' \
                     (the value is not shown){}",
                    file.display(),
                    named(&line)
                )
            })?);
        }
    }
    if let Some(token) = bearer_token(args)? {
        headers.push(token);
    }
    Ok(headers)
}

/// `Authorization: Bearer …` from --bearer-token-file or --bearer-token-env.
fn bearer_token(args: &TargetArgs) -> Result<Option<(HeaderName, HeaderValue)>, String> {
    let Some((token, from)) = secret_from(
        (args.bearer_token_file.as_deref(), "--bearer-token-file"),
        (args.bearer_token_env.as_deref(), "--bearer-token-env"),
        "token",
    )?
    else {
        return Ok(None);
    };
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| format!("{from}: the token is not a valid header value (it is not shown)"))?;
    value.set_sensitive(true);
    Ok(Some((http::header::AUTHORIZATION, value)))
}

/// The OAuth client of --oauth-client-id, its secret from
/// --oauth-client-secret-file or --oauth-client-secret-env.
pub fn oauth(args: &TargetArgs) -> Result<Option<OAuthClient>, String> {
    let Some(client_id) = &args.oauth_client_id else {
        return Ok(None);
    };
    let (client_secret, _) = secret_from(
        (
            args.oauth_client_secret_file.as_deref(),
            "--oauth-client-secret-file",
        ),
        (
            args.oauth_client_secret_env.as_deref(),
            "--oauth-client-secret-env",
        ),
        "secret",
    )?
    .ok_or("--oauth-client-id needs its secret: --oauth-client-secret-file FILE or --oauth-client-secret-env NAME")?;
    let token_url = args
        .oauth_token_url
        .as_deref()
        .map(|text| {
            crate::transport::http::parse_url(text)
                .map_err(|_| format!("--oauth-token-url {text:?} is not an http(s) URL"))
        })
        .transpose()?;
    Ok(Some(OAuthClient {
        client_id: client_id.clone(),
        client_secret,
        token_url,
        scope: args.oauth_scope.clone(),
    }))
}

/// A secret from the first line of a file, or from mcpstorm's own
/// environment, with the flag it came from (to name in errors: never the
/// value). `None` when neither flag was given.
fn secret_from(
    (file, file_flag): (Option<&Path>, &str),
    (variable, variable_flag): (Option<&str>, &str),
    what: &str,
) -> Result<Option<(String, String)>, String> {
    let (value, from) = match (file, variable) {
        (Some(file), _) => {
            let lines = secret_lines(file, file_flag)?;
            let value = lines.into_iter().next().map(|(_, line)| line);
            (value, format!("{file_flag} {}", file.display()))
        }
        (None, Some(name)) => (std::env::var(name).ok(), format!("{variable_flag} {name}")),
        (None, None) => return Ok(None),
    };
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{from}: no {what} there (empty or not set)"))?;
    Ok(Some((value, from)))
}

/// `--url`, parsed: the URL to connect to, without any `user:password@`,
/// which becomes an `Authorization: Basic` header; and the user name, to
/// show as `user:<redacted>@`.
pub struct GivenUrl {
    pub url: Uri,
    pub basic_auth: Option<(HeaderName, HeaderValue)>,
    pub user: Option<String>,
}

pub fn url(text: &str) -> Result<GivenUrl, String> {
    let (shown, userinfo, bare) = match split_userinfo(text) {
        Some((before, userinfo, after)) => (
            format!("{before}{}@{after}", redacted_userinfo(userinfo)),
            Some(userinfo),
            format!("{before}{after}"),
        ),
        None => (text.to_string(), None, text.to_string()),
    };
    let url = crate::transport::http::parse_url(&bare).map_err(|error| {
        // The error quotes the URL: the one without its userinfo, as shown.
        error.to_string().replace(&bare, &shown)
    })?;
    let Some(userinfo) = userinfo else {
        return Ok(GivenUrl {
            url,
            basic_auth: None,
            user: None,
        });
    };
    let decoded = percent_decode(userinfo);
    let user = decoded.split(':').next().unwrap_or_default().to_string();
    let encoded = base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes());
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .map_err(|_| format!("--url {shown}: the user name and password cannot be sent"))?;
    value.set_sensitive(true);
    Ok(GivenUrl {
        url,
        basic_auth: Some((http::header::AUTHORIZATION, value)),
        user: Some(user),
    })
}

/// `scheme://`, `user:password`, `host…`, when the URL has a userinfo.
fn split_userinfo(text: &str) -> Option<(&str, &str, &str)> {
    let start = text.find("://")? + 3;
    let authority_end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    let at = text[start..authority_end].rfind('@')? + start;
    Some((&text[..start], &text[start..at], &text[at + 1..]))
}

fn redacted_userinfo(userinfo: &str) -> String {
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:<redacted>"),
        None => "<redacted>".to_string(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn header(text: &str) -> Option<(HeaderName, HeaderValue)> {
    crate::transport::http::parse_header(text).ok()
}

/// ": header NAME", when what precedes the colon is a header name.
fn named(text: &str) -> String {
    text.split_once(':')
        .map(|(name, _)| name.trim())
        .filter(|name| HeaderName::from_bytes(name.as_bytes()).is_ok())
        .map(|name| format!(" (header {name})"))
        .unwrap_or_default()
}

/// The lines of a secrets file that say something (not blank, not `#`),
/// with their numbers.
fn secret_lines(file: &Path, flag: &str) -> Result<Vec<(usize, String)>, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|error| format!("{flag} {}: {error}", file.display()))?;
    if text.len() as u64 > FILE_BYTES {
        return Err(format!(
            "{flag} {}: larger than {} KB; a secrets file holds a few lines",
            file.display(),
            FILE_BYTES / 1024
        ));
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#')
        })
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r').to_string()))
        .collect())
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A variable's name, when it looks like one (upper case, as variables are
/// named); otherwise it may be a secret typed where a name belongs.
fn shown_name(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        name.to_string()
    } else {
        "the variable named there (not shown: it is not an upper-case name, and may be a secret)"
            .to_string()
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_becomes_basic_auth_and_is_never_shown() {
        let given = url("http://load%40test:pa%3Ass@127.0.0.1:3001/mcp?x=1").unwrap();
        assert_eq!(given.url.to_string(), "http://127.0.0.1:3001/mcp?x=1");
        assert_eq!(given.user.as_deref(), Some("load@test"));
        let (name, value) = given.basic_auth.unwrap();
        assert_eq!(name, http::header::AUTHORIZATION);
        // base64("load@test:pa:ss")
        assert_eq!(value.to_str().unwrap(), "Basic bG9hZEB0ZXN0OnBhOnNz");
        assert!(value.is_sensitive());
        let error = url("ftp://me:hunter2@host/x").err().unwrap();
        assert!(
            !error.contains("hunter2") && error.contains("me:<redacted>@"),
            "{error}"
        );
        assert!(url("http://127.0.0.1/mcp").unwrap().basic_auth.is_none());
    }

    #[test]
    fn ordinals_read_as_english() {
        let said: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(ordinal).into();
        assert_eq!(
            said,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
            ]
        );
    }
}
