//! Watching the server from outside: its whole process tree, sampled from `/proc`.

pub mod procfs;
pub mod sampler;

pub use sampler::{Member, ProbeSample, TreeSampler};
