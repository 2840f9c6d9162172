//! Robustness: bad inputs sent raw to the server, each followed by a
//! well-formed call of the mix. What the server did with each bad input is
//! judged against the answer the specification names (`protocol::bad_input`)
//! and reported per input; the well-formed calls show whether it kept
//! answering, and the crash watch whether it stayed alive.
//!
//! Probes go one at a time on the run's own connection, so that an answer
//! without a usable id (how a server answers a frame it could not read) can
//! only belong to the probe in flight. The request before `initialize` goes
//! on a fresh connection that never initialized: a new server process over
//! stdio, a new client without a session over HTTP.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::segment::{Segment, or_nothing};
use super::{LoadModel, ModelKind};
use crate::client::catalog;
use crate::engine::{EngineError, PhaseContext, PhaseRunner, RunOptions};
use crate::protocol::ProtocolVersion;
use crate::protocol::bad_input::{Answer, BadInput, FrameContext};
use crate::protocol::jsonrpc::ResponseBody;
use crate::scenario::autogen;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;
use crate::scenario::template::CallContext;
use crate::stats::Event;
use crate::transport::{Connection, RawReply, RequestError};

/// How long a lost connection is given to show whether the server died.
const LOSS_SETTLES: Duration = Duration::from_secs(1);

pub const MODEL: ModelKind = ModelKind {
    kind: "robustness",
    keys: &["rounds", "huge_request_kb"],
    parse,
};

/// The very large request by default: 4 MiB, past what a line reader with a
/// fixed buffer takes, well within mcpstorm's own limits.
const DEFAULT_HUGE_REQUEST_KB: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadInputs {
    pub rounds: u32,
    pub huge_request_kb: u32,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let rounds = keys.whole("rounds", 1..=1_000)?.unwrap_or(1);
    let huge_request_kb = keys
        .whole("huge_request_kb", 1..=65_536)?
        .unwrap_or(DEFAULT_HUGE_REQUEST_KB);
    Ok(Arc::new(BadInputs {
        rounds: rounds as u32,
        huge_request_kb: huge_request_kb as u32,
    }))
}

impl fmt::Display for BadInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad inputs × {} rounds", self.rounds)
    }
}

impl LoadModel for BadInputs {
    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        let rounds = segment.share(u64::from(self.rounds));
        Ok(or_nothing(rounds, self, segment, || {
            Arc::new(BadInputs {
                rounds: rounds as u32,
                ..*self
            })
        }))
    }

    /// One well-formed call after each bad input.
    fn planned_calls(&self) -> Option<u64> {
        Some(u64::from(self.rounds) * BadInput::ALL.len() as u64)
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        async move {
            Robustness {
                runner: phase.runner()?,
                options: phase.options,
            }
            .run(self.rounds, self.huge_request_kb)
            .await
        }
        .boxed()
    }
}

struct Robustness<'a> {
    /// Makes the well-formed calls between the probes; its live session is
    /// the one probed.
    runner: PhaseRunner,
    options: &'a RunOptions,
}

impl Robustness<'_> {
    async fn run(&self, rounds: u32, huge_request_kb: u32) -> Result<(), EngineError> {
        let runner = &self.runner;
        let version = runner.live.current().version();
        let context = self.frame_context(huge_request_kb).await;
        let inputs: Vec<BadInput> = BadInput::ALL
            .into_iter()
            .filter(|input| input.applies_to(version))
            .collect();
        for skipped in BadInput::ALL.iter().filter(|i| !inputs.contains(i)) {
            let _ = runner.events.send(Event::Note(format!(
                "robustness: \"{skipped}\" not sent: protocol {version} has no initialize"
            )));
        }
        for _ in 0..rounds {
            for &input in &inputs {
                runner.control.wait_unpaused().await;
                if runner.halt.is_set() {
                    return Ok(());
                }
                let answer = self.probe(input, version, &context).await?;
                let lost = matches!(answer, Answer::Lost(_));
                let _ = runner.events.send(Event::BadInput {
                    phase: runner.phase_index,
                    input,
                    answer: answer.to_string(),
                    as_expected: input.judge(&answer),
                });
                // A lost connection may be a reset the server survives, or
                // its death, which is seen a moment later (an HTTP server's
                // exit): the crash watch then reports it and halts the load.
                let probed = runner.live.current();
                let connection = probed.connection();
                if lost {
                    let _ = tokio::time::timeout(LOSS_SETTLES, connection.wait_closed()).await;
                }
                if connection.is_closed() {
                    if !runner.live.restarts() {
                        // The crash watch reports it and halts the load.
                        return Ok(());
                    }
                    runner.live.replaced(&probed, &runner.halt).await;
                    continue;
                }
                runner.call(0, None).await;
            }
        }
        Ok(())
    }

    async fn probe(
        &self,
        input: BadInput,
        version: ProtocolVersion,
        context: &FrameContext,
    ) -> Result<Answer, EngineError> {
        let build = |id| input.frame(id, version, context);
        let timeout = self.runner.timeout;
        let main = self.runner.live.current();
        if input != BadInput::BeforeInitialize {
            return Ok(answer_of(main.connection().probe(build, timeout).await));
        }
        let fresh = match main.connection().sibling() {
            Some(sibling) => sibling,
            None => Connection::open(&self.options.target, self.options.connect).await?,
        };
        let answer = answer_of(fresh.probe(build, timeout).await);
        fresh.close(self.options.shutdown_grace).await;
        Ok(answer)
    }

    /// The tool for the invalid-arguments probe: the first tool the mix
    /// calls (else the server's first), with arguments that break its schema.
    async fn frame_context(&self, huge_request_kb: u32) -> FrameContext {
        let mixed_tool = self
            .runner
            .phase
            .mix
            .calls
            .iter()
            .filter(|call| call.is_tool_call())
            .find_map(|call| {
                let params = call
                    .params
                    .as_ref()?
                    .render(&CallContext { seq: 0, worker: 0 });
                Some(params.get("name")?.as_str()?.to_string())
            });
        let tools = catalog::tools(&self.runner.live.current(), self.runner.timeout)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let tool = mixed_tool
            .as_deref()
            .and_then(|name| tools.iter().find(|t| t.name == name))
            .or(tools.first());
        FrameContext {
            tool: tool
                .map(|t| t.name.clone())
                .or(mixed_tool)
                .unwrap_or_else(|| "echo".to_string()),
            invalid_arguments: tool.map_or(Value::from("not an object"), |t| {
                autogen::invalid_arguments(&t.input_schema)
            }),
            huge_bytes: huge_request_kb as usize * 1024,
        }
    }
}

/// What a probe's exchange came to.
fn answer_of(reply: Result<RawReply, RequestError>) -> Answer {
    match reply {
        Ok(RawReply::Response(ResponseBody::Error(error))) => Answer::Error(error.code),
        Ok(RawReply::Response(ResponseBody::Result(result))) => {
            if result.is_error() {
                Answer::ToolError
            } else {
                Answer::Result
            }
        }
        Ok(RawReply::Refused { status, code }) => Answer::Status { status, code },
        Ok(RawReply::Response(ResponseBody::Unusable(why))) => Answer::Unreadable(why),
        Err(RequestError::Timeout(after)) => Answer::Silence(after),
        Err(other) => Answer::Lost(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parsed;
    use crate::protocol::bad_input::BadInput;

    #[test]
    fn plans_one_call_after_each_bad_input() {
        let model = parsed(r#"kind = "robustness", rounds = 3"#);
        assert_eq!(model.planned_calls(), Some(3 * BadInput::ALL.len() as u64));
        assert_eq!(model.to_string(), "bad inputs × 3 rounds");
        assert_eq!(
            parsed(r#"kind = "robustness""#).planned_calls(),
            Some(BadInput::ALL.len() as u64)
        );
    }
}
