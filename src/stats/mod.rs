//! Turning call events and probe samples into figures: histograms, counts,
//! time lines, the RSS trend, and the snapshots everything else reads.

mod accumulate;
pub(crate) mod aggregator;
pub(crate) mod attribution;
pub(crate) mod event;
pub(crate) mod latency;
pub mod limits;
pub(crate) mod series;
pub mod snapshot;
mod steadiness;
pub(crate) mod tree_watch;
pub(crate) mod trend;
mod verdict_history;

pub use aggregator::{Aggregator, PhasePlan, RunPlan};
pub use attribution::NotAttributed;
pub use event::{CallEvent, ColdStartEvent, ConnectionHandles, Event};
pub use latency::{LatencyHistogram, LatencySummary};
pub use limits::*;
pub use snapshot::*;
pub use tree_watch::TreeChanges;
pub use trend::{LaterHalf, RssTrend, Settling};
