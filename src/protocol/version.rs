//! MCP protocol revisions and the two eras they belong to.
//!
//! Revisions up to 2025-11-25 open a session with the `initialize` handshake.
//! The 2026-07-28 revision is stateless: no handshake, and every request carries
//! its protocol version and client capabilities in `params._meta`. The session
//! layer asks [`ProtocolVersion::era`] which of the two it is speaking, so the
//! stateless path slots in beside the handshake one.

use std::fmt;
use std::str::FromStr;

/// What the server told us about itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    /// The revision the session speaks.
    pub protocol_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

/// How a session is opened and how each request is dressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `initialize` → result → `notifications/initialized`, then requests.
    Handshake,
    /// No handshake; `server/discover` and per-request `_meta`.
    Stateless,
}

impl ProtocolVersion {
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];

    /// The newest handshake-era revision: what `initialize` offers by default.
    pub const LATEST_HANDSHAKE: ProtocolVersion = ProtocolVersion::V2025_11_25;
    /// The newest revision: what `server/discover` probes with.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2026_07_28;

    /// Every revision, comma-separated, for messages.
    pub fn list() -> String {
        ProtocolVersion::ALL.map(|v| v.as_str()).join(", ")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn era(self) -> Era {
        if self >= ProtocolVersion::V2026_07_28 {
            Era::Stateless
        } else {
            Era::Handshake
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProtocolVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProtocolVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unsupported protocol version {s:?} (supported: {})",
                    ProtocolVersion::list()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_and_sort_into_eras() {
        for v in ProtocolVersion::ALL {
            assert_eq!(v.as_str().parse::<ProtocolVersion>().unwrap(), v);
        }
        assert_eq!(ProtocolVersion::V2025_11_25.era(), Era::Handshake);
        assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Stateless);
        assert!("2023-01-01".parse::<ProtocolVersion>().is_err());
    }
}
