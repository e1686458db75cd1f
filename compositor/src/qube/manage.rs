//! Qubes declared and forgotten at run time, and programs started in them: the control
//! socket's `add-qube`, `remove-qube` and `run` (the qube manager's side of dom0).
//!
//! The name and label come from the manager (dom0's own user, over the 0600 control
//! socket), never from a guest; each is validated with border-theme's rules before anything
//! changes, and a failure leaves the compositor as it was.
//!
//! A qube added here gets its entry of the window policy loaded at startup
//! (`--window-policy`), as one declared with `--qube` does.
//!
//! `run` is answered later, without blocking the event loop: when the agent's
//! `LaunchResult` arrives, or after [`LAUNCH_CONFIRM_TIMEOUT`] (see [`super::launch`]).

use bulkhead_border_theme::{Label, QubeName};
use bulkhead_protocol::{Capabilities, Dom0Message};
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};

use super::launch::{LAUNCH_CONFIRM_TIMEOUT, MAX_UNCONFIRMED_LAUNCHES};
use crate::control::Response;
use crate::control::server::Reply;
use crate::state::State;

fn ok() -> Response {
    Response {
        ok: true,
        ..Response::default()
    }
}

impl State {
    /// `add-qube`: declares `name` with `label` and opens its socket.
    pub(crate) fn add_qube(&mut self, name: &str, label: &str) -> Response {
        let name = match QubeName::new(name) {
            Ok(n) => n,
            Err(e) => return Response::error(format!("{e}")),
        };
        let label = match label.parse::<Label>() {
            Ok(l) => l,
            Err(e) => return Response::error(format!("{e}")),
        };
        let qube = match self.dom0.add_qube(name.clone(), label) {
            Ok(q) => q,
            Err(_) => {
                return Response::error(format!(
                    "dom0 already knows a qube named {name}; remove it first (remove-qube)"
                ));
            }
        };
        match self.qubes.open_socket(qube, &name) {
            Ok(path) => {
                tracing::info!(qube = %name, %label, "qube added");
                self.dom0.needs_redraw = true;
                Response {
                    ok: true,
                    socket: Some(path),
                    ..Response::default()
                }
            }
            Err(e) => {
                // Undo: the qube is not half there.
                self.dom0.desktop.remove_qube(qube);
                Response::error(format!("cannot open the socket of qube {name}: {e}"))
            }
        }
    }

    /// `remove-qube`: closes `name`'s connection and socket and forgets it.
    pub(crate) fn remove_qube(&mut self, name: &str) -> Response {
        let Some(qube) = self.dom0.desktop.qube_by_name(name) else {
            return Response::error(format!("dom0 knows no qube named {name:?}"));
        };
        self.qubes.close_socket(qube);
        self.disconnect(qube, &super::Violation::Removed);
        self.dom0.clipboard.qube_gone(qube);
        self.dom0.qube_gone(qube);
        tracing::info!(qube = %name, "qube removed");
        ok()
    }

    /// `run`: sends `Launch` to `qube`'s agent; `reply` is answered when the agent says
    /// whether the program started, or after [`LAUNCH_CONFIRM_TIMEOUT`].
    pub(crate) fn run_in_qube(&mut self, name: &str, argv: Vec<String>, reply: Reply) {
        match self.send_launch(name, argv, reply) {
            Ok(()) => {}
            Err((reply, response)) => reply.send(response),
        }
    }

    /// Sends the `Launch` and files `reply` with it, or gives `reply` back with the answer
    /// that says why not.
    #[allow(
        clippy::result_large_err,
        reason = "the error is the reply and its answer, made once per refused run"
    )]
    fn send_launch(
        &mut self,
        name: &str,
        argv: Vec<String>,
        reply: Reply,
    ) -> Result<(), (Reply, Response)> {
        let refuse = |reply, text: String| Err((reply, Response::error(text)));
        let Some(qube) = self.dom0.desktop.qube_by_name(name) else {
            return refuse(
                reply,
                format!("dom0 knows no qube named {name:?} (start it with `bulkhead qube start`)"),
            );
        };
        let (Some(capabilities), Some(handle)) =
            (self.qubes.capabilities(qube), self.qubes.loop_handle())
        else {
            return refuse(
                reply,
                format!("qube {name} has no agent connected yet; try again once it has started"),
            );
        };
        if !capabilities.contains(Capabilities::LAUNCH) {
            return refuse(
                reply,
                format!(
                    "the agent of qube {name} does not start programs (it did not offer LAUNCH)"
                ),
            );
        }
        if self
            .qubes
            .connection(qube)
            .is_some_and(|c| c.launches().is_full())
        {
            return refuse(
                reply,
                format!(
                    "qube {name} has not confirmed {MAX_UNCONFIRMED_LAUNCHES} earlier programs; \
                     restart it (`bulkhead qube stop {name}`, then run again)"
                ),
            );
        }
        let program = argv.first().cloned().unwrap_or_default();
        let launch = self.qubes.launch_id();
        let message = Dom0Message::Launch { launch, argv };
        if let Err(reason) = message.validate() {
            return refuse(reply, format!("cannot run that command line: {reason}"));
        }
        if let Err(v) = self.qubes.send(qube, &message) {
            let text = format!("qube {name} did not take the request: {v}");
            self.disconnect(qube, &v);
            return refuse(reply, text);
        }
        tracing::debug!(qube = %name, launch, ?message, "launch sent");
        if let Some(connection) = self.qubes.connection(qube) {
            connection
                .launches()
                .sent(launch, name.to_owned(), program, reply);
        }
        let timer = handle.insert_source(
            Timer::from_duration(LAUNCH_CONFIRM_TIMEOUT),
            move |_, (), state: &mut State| {
                if let Some(connection) = state.qubes.connection(qube) {
                    connection.launches().timed_out(launch);
                }
                TimeoutAction::Drop
            },
        );
        if timer.is_err() {
            // The answer still comes with the agent's result; only the bound is lost.
            tracing::error!(launch, "cannot arm the launch confirmation timer");
        }
        Ok(())
    }
}
