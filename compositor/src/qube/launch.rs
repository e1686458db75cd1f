//! Programs dom0 asked a qube's agent to start (`Launch`) and the answers it waits for
//! (`LaunchResult`).
//!
//! Each `Launch` carries an id dom0 picks (unique across the compositor's life, so a timer
//! of an old connection never touches a new one's launch). The control client's `run` is
//! answered when the agent's `LaunchResult` arrives, or after [`LAUNCH_CONFIRM_TIMEOUT`]
//! with "did not confirm"; a launch that timed out stays on the books until its late answer
//! comes (logged, not an error) or the connection closes. An answer dom0 is not waiting for
//! (an unknown id, a second answer, any answer from an agent that was never sent a
//! `Launch`) is a violation that closes the connection.
//!
//! The agent sends a number only. dom0 words every message from its own copy of the
//! command line and the error text its own C library gives that number
//! ([`describe_errno`]); nothing the qube wrote is shown.

use std::collections::HashMap;
use std::time::Duration;

use bulkhead_protocol::MAX_LAUNCH_ERRNO;

use super::Violation;
use crate::control::Response;
use crate::control::server::Reply;

/// How long `run` waits for the agent to say whether the program started. Starting is one
/// `fork` + `execve` in the qube: well under a second unless the qube is overloaded.
pub const LAUNCH_CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// Launches a connection may leave unanswered (timed out, answer still owed). Beyond this
/// `run` is refused until the agent answers or reconnects: an agent that never answers
/// cannot make dom0 hold more and more.
pub const MAX_UNCONFIRMED_LAUNCHES: usize = 16;

/// The text for error number `errno` from a `LaunchResult`: the host's own message for a
/// Linux error number (`1..=4095`), else "unknown error".
pub fn describe_errno(errno: u32) -> String {
    match i32::try_from(errno) {
        Ok(n) if (1..=MAX_LAUNCH_ERRNO).contains(&errno) => {
            std::io::Error::from_raw_os_error(n).to_string()
        }
        _ => "unknown error".to_owned(),
    }
}

/// One launch dom0 waits for.
#[derive(Debug)]
struct Pending {
    /// The qube's name and the program (`argv[0]`), both dom0's own, for the answer.
    qube: String,
    program: String,
    /// The control client's answer; `None` once it was answered by the timeout.
    reply: Option<Reply>,
}

/// The launches one connection waits for.
#[derive(Debug, Default)]
pub struct Launches {
    pending: HashMap<u32, Pending>,
}

impl Launches {
    /// Whether no more launches may be sent ([`MAX_UNCONFIRMED_LAUNCHES`]).
    pub fn is_full(&self) -> bool {
        self.pending.len() >= MAX_UNCONFIRMED_LAUNCHES
    }

    /// How many launches wait for their answer.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no launch waits for its answer.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// dom0 sent `Launch` with id `launch` for `program` in `qube`; `reply` answers `run`.
    pub fn sent(&mut self, launch: u32, qube: String, program: String, reply: Reply) {
        let old = self.pending.insert(
            launch,
            Pending {
                qube,
                program,
                reply: Some(reply),
            },
        );
        if let Some(old) = old {
            // Ids come from one counter over 2^32 launches: a repeat is a bug here.
            tracing::error!(launch, "launch id reused while still pending");
            answer(
                old.reply,
                Response::error("dom0 reused this launch's id (a bug: see its log)"),
            );
        }
    }

    /// The agent's answer to launch `launch`: the waiting `run` gets its answer. An answer
    /// dom0 does not wait for is a violation.
    pub fn answered(&mut self, launch: u32, errno: u32) -> Result<(), Violation> {
        let pending = self
            .pending
            .remove(&launch)
            .ok_or(Violation::UnexpectedLaunchResult(launch))?;
        let late = pending.reply.is_none();
        if errno == 0 {
            tracing::info!(qube = %pending.qube, program = %pending.program, launch, late, "program started in qube");
            answer(
                pending.reply,
                Response {
                    ok: true,
                    ..Response::default()
                },
            );
        } else {
            let error = format!(
                "qube {} could not start `{}`: {}",
                pending.qube,
                pending.program,
                describe_errno(errno)
            );
            tracing::info!(launch, late, "{error}");
            answer(
                pending.reply,
                Response {
                    errno: Some(errno),
                    ..Response::error(error)
                },
            );
        }
        Ok(())
    }

    /// [`LAUNCH_CONFIRM_TIMEOUT`] passed for `launch`: answer `run` now; the launch stays
    /// pending for its late answer.
    pub fn timed_out(&mut self, launch: u32) {
        let Some(pending) = self.pending.get_mut(&launch) else {
            return;
        };
        if let Some(reply) = pending.reply.take() {
            tracing::warn!(qube = %pending.qube, program = %pending.program, launch, "the qube did not confirm a launch in time");
            reply.send(Response::error(format!(
                "qube {} did not confirm within {} s that `{}` started; it may still start \
                 (a busy or stuck qube: see its log)",
                pending.qube,
                LAUNCH_CONFIRM_TIMEOUT.as_secs(),
                pending.program
            )));
        }
    }

    /// The connection closed (`why`): every waiting `run` is answered.
    pub fn closed(&mut self, why: &Violation) {
        for (_, pending) in self.pending.drain() {
            answer(
                pending.reply,
                Response::error(format!(
                    "qube {} went away before it confirmed that `{}` started ({why})",
                    pending.qube, pending.program
                )),
            );
        }
    }
}

fn answer(reply: Option<Reply>, response: Response) {
    if let Some(reply) = reply {
        reply.send(response);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_are_worded_by_dom0() {
        assert_eq!(describe_errno(2), "No such file or directory (os error 2)");
        assert_eq!(describe_errno(13), "Permission denied (os error 13)");
        for odd in [0, 4096, u32::MAX, 1 << 31] {
            assert_eq!(describe_errno(odd), "unknown error", "{odd}");
        }
    }

    #[test]
    fn only_awaited_answers_are_accepted_and_each_once() {
        let mut launches = Launches::default();
        assert!(matches!(
            launches.answered(1, 0),
            Err(Violation::UnexpectedLaunchResult(1))
        ));
        launches.sent(1, "work".into(), "foot".into(), Reply::detached());
        launches.sent(2, "work".into(), "foo".into(), Reply::detached());
        assert_eq!(launches.len(), 2);
        assert!(launches.answered(2, 2).is_ok());
        assert!(matches!(
            launches.answered(2, 0),
            Err(Violation::UnexpectedLaunchResult(2))
        ));
        // A late answer after the timeout is still expected (once).
        launches.timed_out(1);
        assert_eq!(launches.len(), 1);
        assert!(launches.answered(1, 0).is_ok());
        assert!(launches.is_empty());
    }

    #[test]
    fn the_books_are_bounded() {
        let mut launches = Launches::default();
        for id in 0..u32::try_from(MAX_UNCONFIRMED_LAUNCHES).unwrap() {
            assert!(!launches.is_full());
            launches.sent(id, "work".into(), "x".into(), Reply::detached());
            launches.timed_out(id);
        }
        assert!(launches.is_full());
        launches.closed(&Violation::HungUp);
        assert!(launches.is_empty());
    }
}
