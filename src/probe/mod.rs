//! Watching the server from outside: its whole process tree, sampled from `/proc`.

pub(crate) mod command_line;
pub mod demand;
pub(crate) mod listener;
pub mod procfs;
pub(crate) mod sampler;

pub use sampler::{Member, ProbeSample, TreeSampler};
