//! mcpstorm's own limit on open files. The default soft limit (often 1024)
//! is far below what a load test needs: 1,500 HTTP workers turned most of
//! their calls into "transport errors" blamed on the server. So mcpstorm
//! raises its soft limit to the hard limit at start — and gives each server
//! it starts the limit it would have had, since a server's own file limit is
//! part of what is tested (an FD leak must hit it as it would in production).

use std::sync::atomic::{AtomicU64, Ordering};

/// The soft limit mcpstorm was started with (0: not read).
static INHERITED_SOFT: AtomicU64 = AtomicU64::new(0);
/// The soft limit mcpstorm runs with.
static OWN_SOFT: AtomicU64 = AtomicU64::new(0);

/// Raise the soft limit on open files to the hard limit. Returns the limit
/// now in force.
pub fn raise() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        INHERITED_SOFT.store(limit.rlim_cur, Ordering::Relaxed);
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if limit.rlim_cur < limit.rlim_max && libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    OWN_SOFT.store(limit.rlim_cur, Ordering::Relaxed);
    limit.rlim_cur
}

/// The soft limit mcpstorm runs with, if known.
pub fn own() -> Option<u64> {
    Some(OWN_SOFT.load(Ordering::Relaxed)).filter(|&n| n > 0)
}

/// In a child about to exec a server: put back the soft limit mcpstorm was
/// started with. Async-signal-safe (one setrlimit call).
pub fn restore_in_child() {
    let inherited = INHERITED_SOFT.load(Ordering::Relaxed);
    if inherited == 0 {
        return;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = inherited.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Whether `error` is this process running out of descriptors (its own
/// limit, or the system's), not a failure of the server.
pub fn is_exhaustion(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE)
    )
}
