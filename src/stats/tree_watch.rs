//! The processes of the server's tree over the run: which came and went, the
//! most at once, and each one's memory growth since the baseline — so that a
//! wrapper that frees memory cannot hide its server's leak in the tree's sum,
//! and a fork that comes and goes is seen for what it is.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::accumulate::either_or_both;
use super::trend::{floor_now, push_bounded, rss_trend};
use crate::probe::sampler::Member;

/// Most processes remembered by pid: a server that forks for every call
/// must not grow this without end.
const MAX_REMEMBERED: usize = 4096;

/// Processes named in the summary's list of changes.
const NAMED: usize = 5;

/// Processes whose RSS is followed over calls for a trend of their own, and
/// the points kept for each.
const TRENDED: usize = 16;
const TREND_POINTS: usize = 1024;

/// What happened to the tree during the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TreeChanges {
    /// Processes that were not there at the first sample (counted up to 4096).
    pub started: u32,
    /// Processes seen during the run that are gone at the last sample.
    pub ended: u32,
    /// A few of them, as `+4243 git` (started) and `-4243 git` (ended).
    pub examples: Vec<String>,
}

/// A member's lowest memory since the baseline (or since it first appeared
/// after it): its growth counts from this floor, as the tree's does.
#[derive(Debug, Clone, Copy)]
struct Floor {
    rss_bytes: u64,
    pss_bytes: Option<u64>,
}

#[derive(Debug, Default)]
pub struct TreeWatch {
    first: Option<BTreeSet<u32>>,
    seen: BTreeMap<u32, String>,
    processes_max: u32,
    /// Set once growth counts (the end of the warm-up).
    baseline_taken: bool,
    floors: HashMap<u32, Floor>,
    /// (calls completed, RSS bytes) of each followed process since the baseline.
    series: HashMap<u32, Vec<(f64, f64)>>,
}

impl TreeWatch {
    /// A new sample of the tree, taken when `calls_done` calls had completed.
    pub fn observe(&mut self, members: &[Member], calls_done: u64) {
        if self.first.is_none() && !members.is_empty() {
            self.first = Some(members.iter().map(|m| m.pid).collect());
        }
        self.processes_max = self.processes_max.max(members.len() as u32);
        for member in members {
            if self.seen.len() < MAX_REMEMBERED || self.seen.contains_key(&member.pid) {
                self.seen.insert(member.pid, member.name.clone());
            }
            if self.baseline_taken
                && (self.floors.len() < MAX_REMEMBERED || self.floors.contains_key(&member.pid))
            {
                let floor = self
                    .floors
                    .entry(member.pid)
                    .or_insert_with(|| floor(member));
                floor.rss_bytes = floor.rss_bytes.min(member.rss_bytes);
                floor.pss_bytes = either_or_both(floor.pss_bytes, member.pss_bytes, u64::min);
            }
            if self.baseline_taken
                && (self.series.len() < TRENDED || self.series.contains_key(&member.pid))
            {
                let point = (calls_done as f64, member.rss_bytes as f64);
                push_bounded(
                    self.series.entry(member.pid).or_default(),
                    point,
                    TREND_POINTS,
                );
            }
        }
    }

    /// Growth counts from here: each member's memory now.
    pub fn take_baseline(&mut self, members: &[Member]) {
        self.baseline_taken = true;
        self.floors = members.iter().map(|m| (m.pid, floor(m))).collect();
        self.series.clear();
    }

    /// A fresh server took a crashed one's place: everything starts over
    /// from its first sample (its baseline too, if growth counted already).
    pub fn restart(&mut self, members: &[Member], calls_done: u64) {
        let baseline_taken = self.baseline_taken;
        *self = TreeWatch::default();
        if baseline_taken {
            self.take_baseline(members);
        }
        self.observe(members, calls_done);
    }

    pub fn processes_max(&self) -> u32 {
        self.processes_max
    }

    /// Growth of `member` since the baseline: RSS and PSS, in MB. A
    /// followed process's RSS growth is counted as the tree's is, from its
    /// floor since the baseline to the floor it stands on now, so a
    /// garbage-collected server's sawtooth does not swing it.
    pub fn growth_mb(&self, member: &Member) -> (Option<f64>, Option<f64>) {
        let Some(floor) = self.floors.get(&member.pid) else {
            return (None, None);
        };
        let mb = |bytes: f64| bytes / (1024.0 * 1024.0);
        let rss: Vec<f64> = self
            .series
            .get(&member.pid)
            .map(|points| points.iter().map(|p| p.1).collect())
            .unwrap_or_default();
        let now = floor_now(&rss).unwrap_or(member.rss_bytes as f64);
        let mb_of = |bytes: u64| mb(bytes as f64);
        (
            Some(mb(now) - mb_of(floor.rss_bytes)),
            member
                .pss_bytes
                .zip(floor.pss_bytes)
                .map(|(now, then)| mb_of(now) - mb_of(then)),
        )
    }

    /// The memory `member` retains per call since the baseline (the same
    /// floor fit as the tree's trend), once there are enough samples.
    pub fn trend_kb_per_call(&self, member: &Member) -> Option<f64> {
        rss_trend(self.series.get(&member.pid)?).map(|t| t.kb_per_call)
    }

    /// Who came and went, judged against the last sample's members; `None`
    /// when the tree stayed as it started.
    pub fn changes(&self, latest: &[Member]) -> Option<TreeChanges> {
        let first = self.first.as_ref()?;
        let now: BTreeSet<u32> = latest.iter().map(|m| m.pid).collect();
        let mut changes = TreeChanges::default();
        for (pid, name) in &self.seen {
            let (came, went) = (!first.contains(pid), !now.contains(pid));
            changes.started += u32::from(came);
            changes.ended += u32::from(went);
            if (came || went) && changes.examples.len() < NAMED {
                let sign = if went { "-" } else { "+" };
                changes.examples.push(format!("{sign}{pid} {name}"));
            }
        }
        (changes.started + changes.ended > 0).then_some(changes)
    }
}

fn floor(member: &Member) -> Floor {
    Floor {
        rss_bytes: member.rss_bytes,
        pss_bytes: member.pss_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(pid: u32, name: &str, rss_mb: u64) -> Member {
        Member {
            pid,
            parent: 1,
            name: name.into(),
            rss_bytes: rss_mb << 20,
            pss_bytes: Some(rss_mb << 19),
            ..Member::default()
        }
    }

    #[test]
    fn a_members_sawtooth_is_no_growth_wherever_it_stands() {
        // The baseline on a 40 MB peak, the last sample on another: its
        // floor is where it was (it read -30 from the baseline sample, and
        // +30 on a peak against the floor).
        let mut watch = TreeWatch::default();
        let node = |mb: u64| member(7, "node", mb);
        watch.take_baseline(&[node(50)]);
        for (calls, mb) in (0..40u64).map(|i| (i * 10, 10 + (i % 8) * 5)) {
            watch.observe(&[node(mb)], calls);
        }
        watch.observe(&[node(45)], 400);
        assert_eq!(watch.growth_mb(&node(45)).0, Some(0.0));
    }

    #[test]
    fn sees_forks_come_and_go_and_each_members_growth() {
        let mut watch = TreeWatch::default();
        let wrapper = member(10, "uv", 40);
        watch.observe(std::slice::from_ref(&wrapper), 0);
        watch.take_baseline(std::slice::from_ref(&wrapper));
        // The wrapper frees 30 MB (it keeps nothing: its floor went down
        // with it); its server, new since the baseline, grows.
        let (wrapper_now, server_then) = (member(10, "uv", 10), member(11, "python3", 20));
        watch.observe(&[wrapper_now.clone(), server_then], 10);
        let server_now = member(11, "python3", 60);
        watch.observe(
            &[
                wrapper_now.clone(),
                server_now.clone(),
                member(12, "git", 5),
            ],
            20,
        );
        watch.observe(&[wrapper_now.clone(), server_now.clone()], 30);
        assert_eq!(watch.growth_mb(&wrapper_now), (Some(0.0), Some(0.0)));
        assert_eq!(watch.growth_mb(&server_now), (Some(40.0), Some(20.0)));
        assert_eq!(watch.processes_max(), 3);
        let changes = watch.changes(&[wrapper_now, server_now]).expect("changed");
        assert_eq!((changes.started, changes.ended), (2, 1));
        assert_eq!(changes.examples, vec!["+11 python3", "-12 git"]);
        // A tree that stays as it started has nothing to say.
        let mut still = TreeWatch::default();
        still.observe(&[member(1, "node", 50)], 0);
        assert_eq!(still.changes(&[member(1, "node", 51)]), None);
    }
}
