//! A process's command line, as the Process tree pane shows it enlarged:
//! read from `/proc/PID/cmdline`, bounded, and with what may be a secret
//! redacted. A wrapper (`sh -c 'server --token $TOKEN'`) hands its children
//! secrets in their arguments: the values mcpstorm was given as secrets
//! (environment values, header values) are hidden wherever they appear,
//! and so is the value of any argument named like a secret.

use std::fs::File;
use std::io::Read;

/// The most of a command line read.
const MOST_BYTES: u64 = 4096;
/// Secrets shorter than this are not searched for (a one-letter value
/// would redact every word).
const SHORTEST_SECRET: usize = 4;

/// Words in an argument's name that say its value is a secret.
const SECRET_NAMES: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "auth",
    "bearer",
    "credential",
    "cookie",
    "session",
];

const REDACTED: &str = "<redacted>";

/// The command line of `pid`, its arguments joined by spaces (one holding
/// a space quoted), secrets redacted; `None` when the process is gone or
/// has none (a kernel thread).
pub fn read(pid: u32, secrets: &[String]) -> Option<String> {
    let mut bytes = Vec::new();
    File::open(format!("/proc/{pid}/cmdline"))
        .ok()?
        .take(MOST_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    let args: Vec<String> = bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then(|| shown(&args, secrets))
}

/// `args` as shown: each secret value replaced, the value of each argument
/// named like a secret (`--api-key=…`, `--token …`) replaced.
pub fn shown(args: &[String], secrets: &[String]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut next_is_secret = false;
    for arg in args {
        let mut arg = arg.clone();
        for secret in secrets.iter().filter(|s| s.len() >= SHORTEST_SECRET) {
            arg = arg.replace(secret.as_str(), REDACTED);
        }
        if std::mem::take(&mut next_is_secret) && !arg.starts_with('-') {
            out.push(REDACTED.to_string());
            continue;
        }
        if let Some(name) = arg.strip_prefix('-') {
            match name.split_once('=') {
                Some((name, _)) if named_secret(name) => {
                    out.push(format!("-{name}={REDACTED}"));
                    continue;
                }
                None => next_is_secret = named_secret(name),
                _ => {}
            }
        }
        out.push(if arg.contains(char::is_whitespace) || arg.is_empty() {
            format!("{arg:?}")
        } else {
            arg
        });
    }
    out.join(" ")
}

fn named_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn secrets_are_redacted_wherever_they_appear() {
        let secrets = vec!["hunter2-token".to_string(), "ab".to_string()];
        assert_eq!(
            shown(
                &args("node s.js --auth=x --api-key abc --port 80 Bearer:hunter2-token"),
                &secrets
            ),
            "node s.js --auth=<redacted> --api-key <redacted> --port 80 Bearer:<redacted>"
        );
        assert_eq!(
            shown(&args("serve --require-bearer t0k"), &[]),
            "serve --require-bearer <redacted>"
        );
        // A flag named like a secret followed by another flag keeps it.
        assert_eq!(
            shown(&args("s --token --verbose"), &[]),
            "s --token --verbose"
        );
        // Too short a secret is not searched for.
        assert_eq!(shown(&args("tab ab"), &secrets), "tab ab");
        assert_eq!(
            shown(&["sh".into(), "-c".into(), "a b".into()], &[]),
            "sh -c \"a b\""
        );
    }

    #[test]
    fn the_running_test_reads_its_own_command_line() {
        let own = read(std::process::id(), &[]).expect("our own command line");
        assert!(!own.is_empty());
        assert_eq!(read(u32::MAX, &[]), None);
    }
}
