//! Watching the server from outside: its whole process tree, sampled from `/proc`.

pub mod listener;
pub mod procfs;
pub mod sampler;

pub use sampler::{Member, ProbeSample, TreeSampler};
