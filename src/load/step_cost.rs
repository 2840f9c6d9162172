//! What one step of a capacity search cost the server and mcpstorm: the
//! CPU each wanted (`probe::demand`, thread by thread) and the server's
//! memory at the step's end; and what that says: the server's CPU was its
//! limit, or mcpstorm's own CPU was (then no capacity is claimed past it).

use crate::engine::MeasuredProcess;
use crate::probe::demand::CpuReading;
use crate::probe::procfs;
use crate::stats::StepCost;

/// A thread runnable this share of a step, or a tree using this share of
/// the machine's cores, had no CPU to spare.
const SATURATED: f64 = 0.9;

/// The readings a step starts from.
pub(super) struct CostMeter {
    server: Option<(u32, CpuReading)>,
    mcpstorm: CpuReading,
}

impl CostMeter {
    pub(super) fn start(server: Option<&MeasuredProcess>) -> CostMeter {
        CostMeter {
            server: server
                .and_then(MeasuredProcess::pid)
                .map(|pid| (pid, CpuReading::of_tree(pid))),
            mcpstorm: CpuReading::of_self(),
        }
    }

    /// The step's cost from its start to now.
    pub(super) fn read(&self) -> StepCost {
        self.measure().0
    }

    /// The step's cost from its start to now, and now the start of the
    /// next step: one walk of the server's tree serves both.
    pub(super) fn advance(&mut self) -> StepCost {
        let (cost, next) = self.measure();
        *self = next;
        cost
    }

    fn measure(&self) -> (StepCost, CostMeter) {
        let mcpstorm = CpuReading::of_self();
        let (server, server_cpu, server_rss_mb) = match &self.server {
            Some((pid, before)) if procfs::is_alive(*pid) => {
                let tree = procfs::process_tree(*pid);
                let rss: u64 = tree.iter().filter_map(|&p| procfs::read_rss_bytes(p)).sum();
                let now = CpuReading::of_processes(&tree);
                let used = now.since(before);
                (
                    Some((*pid, now)),
                    Some(used),
                    Some(rss as f64 / (1024.0 * 1024.0)),
                )
            }
            _ => (None, None, None),
        };
        let cost = StepCost {
            server_cpu,
            server_rss_mb,
            mcpstorm_cpu: mcpstorm.since(&self.mcpstorm),
        };
        (cost, CostMeter { server, mcpstorm })
    }
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// The server's CPU was its limit, in words: a thread of it runnable
/// nearly all the step (a single-threaded server's event loop), or its
/// tree using nearly every core.
pub(super) fn server_cpu_limit(cost: &StepCost) -> Option<String> {
    let cpu = cost.server_cpu.as_ref()?;
    let cores = cores();
    if cpu.busiest_runnable >= SATURATED {
        let waiting = if cpu.busiest_waiting >= 0.1 {
            format!(
                ", {:.0} % of it waiting for a CPU the machine gave to others",
                cpu.busiest_waiting * 100.0
            )
        } else {
            String::new()
        };
        Some(format!(
            "the server's CPU: its thread {} wanted a CPU {:.0} % of the step{waiting}",
            cpu.busiest_thread,
            cpu.busiest_runnable * 100.0
        ))
    } else if cpu.cores_used >= SATURATED * cores {
        Some(format!(
            "the server's CPU: it used {:.1} of the machine's {cores} cores",
            cpu.cores_used
        ))
    } else {
        None
    }
}

/// mcpstorm's own CPU was the limit: a thread of its on a CPU nearly all
/// the step, or it used nearly every core. Time on a CPU, not time
/// runnable: a busy machine slows mcpstorm's sends, which the late sends
/// show, without its wanting more CPU.
pub(super) fn generator_cpu_limit(cost: &StepCost) -> Option<String> {
    let cpu = &cost.mcpstorm_cpu;
    let busiest_on_cpu = cpu.busiest_runnable - cpu.busiest_waiting;
    let cores = cores();
    if busiest_on_cpu >= SATURATED {
        Some(format!(
            "mcpstorm's thread {} was on a CPU {:.0} % of the step",
            cpu.busiest_thread,
            busiest_on_cpu * 100.0
        ))
    } else if cpu.cores_used >= SATURATED * cores {
        Some(format!(
            "mcpstorm used {:.1} of the machine's {cores} cores",
            cpu.cores_used
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::demand::CpuDemand;

    fn demand(cores_used: f64, busiest_runnable: f64, busiest_waiting: f64) -> CpuDemand {
        CpuDemand {
            cores_used,
            busiest_runnable,
            busiest_waiting,
            busiest_thread: "worker (pid 7, thread 8)".into(),
        }
    }

    fn cost(server: Option<CpuDemand>, mcpstorm: CpuDemand) -> StepCost {
        StepCost {
            server_cpu: server,
            server_rss_mb: Some(10.0),
            mcpstorm_cpu: mcpstorm,
        }
    }

    #[test]
    fn a_thread_runnable_all_along_is_the_servers_limit() {
        let idle = demand(0.05, 0.05, 0.0);
        assert_eq!(
            server_cpu_limit(&cost(Some(idle.clone()), idle.clone())),
            None
        );
        assert_eq!(server_cpu_limit(&cost(None, idle.clone())), None);
        let busy = cost(Some(demand(0.97, 0.97, 0.02)), idle.clone());
        let why = server_cpu_limit(&busy).unwrap();
        assert!(
            why.contains("worker (pid 7, thread 8) wanted a CPU 97 %"),
            "{why}"
        );
        // A starved thread wanted the CPU as much: said, with the waiting.
        let starved = cost(Some(demand(0.4, 0.95, 0.55)), idle.clone());
        let why = server_cpu_limit(&starved).unwrap();
        assert!(why.contains("55 % of it waiting"), "{why}");
        // Many threads, no one busy, every core used.
        let wide = cost(Some(demand(cores() * 0.95, 0.5, 0.0)), idle);
        assert!(server_cpu_limit(&wide).unwrap().contains("cores"));
    }

    #[test]
    fn mcpstorm_on_a_cpu_all_along_is_its_own_limit_but_waiting_is_not() {
        let idle = demand(0.05, 0.05, 0.0);
        assert_eq!(generator_cpu_limit(&cost(None, idle.clone())), None);
        let busy = cost(None, demand(1.0, 0.98, 0.02));
        let why = generator_cpu_limit(&busy).unwrap();
        assert!(why.contains("on a CPU 96 %"), "{why}");
        // Runnable but mostly waiting: the machine is busy, not mcpstorm.
        let starved = cost(None, demand(0.3, 0.95, 0.7));
        assert_eq!(generator_cpu_limit(&starved), None);
    }
}
