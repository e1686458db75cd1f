//! Qubes declared and forgotten at run time, and programs started in them: the control
//! socket's `add-qube`, `remove-qube` and `run` (the qube manager's side of dom0).
//!
//! The name and label come from the manager (dom0's own user, over the 0600 control
//! socket), never from a guest; each is validated with border-theme's rules before anything
//! changes, and a failure leaves the compositor as it was.

use bulkhead_border_theme::{Label, QubeName};
use bulkhead_protocol::{Capabilities, Dom0Message};

use crate::control::Response;
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
        let qube = match self.dom0.desktop.add_qube(name.clone(), label) {
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
        self.disconnect(qube, &super::Violation::HungUp);
        self.dom0.clipboard.qube_gone(qube);
        self.dom0.qube_gone(qube);
        tracing::info!(qube = %name, "qube removed");
        ok()
    }

    /// `run`: sends `Launch { argv }` to `qube`'s agent.
    pub(crate) fn run_in_qube(&mut self, name: &str, argv: Vec<String>) -> Response {
        let Some(qube) = self.dom0.desktop.qube_by_name(name) else {
            return Response::error(format!(
                "dom0 knows no qube named {name:?} (start it with `bulkhead qube start`)"
            ));
        };
        let Some(capabilities) = self.qubes.capabilities(qube) else {
            return Response::error(format!(
                "qube {name} has no agent connected yet; try again once it has started"
            ));
        };
        if !capabilities.contains(Capabilities::LAUNCH) {
            return Response::error(format!(
                "the agent of qube {name} does not start programs (it did not offer LAUNCH)"
            ));
        }
        let launch = Dom0Message::Launch { argv };
        if let Err(reason) = launch.validate() {
            return Response::error(format!("cannot run that command line: {reason}"));
        }
        if let Err(v) = self.qubes.send(qube, &launch) {
            let answer = Response::error(format!("qube {name} did not take the request: {v}"));
            self.disconnect(qube, &v);
            return answer;
        }
        tracing::info!(qube = %name, program = ?launch, "program started in qube");
        ok()
    }
}
