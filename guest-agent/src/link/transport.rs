//! The real dom0 link: `bulkhead-protocol` messages over `bulkhead-shm-transport`.
//!
//! Host mode: the agent connects to dom0's Unix socket, receives the
//! shared-memory fds ([`receive_handoff`]), sends `Hello` and waits for `HelloAck`. After
//! that the socket only tells the agent that dom0 is gone (it hangs up); everything else
//! goes through the rings, one protocol message per ring message, and the arena.
//!
//! VM mode ([`TransportLink::open_pci`]): the region and doorbells are the GUI channel PCI
//! device ([`super::pci`]); the handshake is the same.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use bulkhead_protocol::{
    Capabilities, DecodeError, PROTOCOL_VERSION, Version, VersionError, negotiate,
};
use bulkhead_shm_transport::{Arena, Config, Endpoint, SendStatus, receive_handoff};

use super::{AgentMessage, Dom0Message, DomLink, LinkError, OutputInfo};

/// What the agent offers dom0 in `Hello`.
pub const AGENT_CAPABILITIES: Capabilities = Capabilities::CLIPBOARD
    .union(Capabilities::CURSOR_SHAPE)
    .union(Capabilities::LAUNCH);

/// Why the connection to dom0 could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The GUI channel PCI device could not be opened (VM mode).
    #[error("opening the GUI channel PCI device")]
    Pci(#[from] super::pci::PciError),
    /// The socket could not be reached.
    #[error("connecting to dom0's socket")]
    Socket(#[source] std::io::Error),
    /// The shared memory could not be received or mapped.
    #[error("setting up the shared memory")]
    Setup(#[from] bulkhead_shm_transport::SetupError),
    /// Sending `Hello` failed.
    #[error("sending Hello")]
    Send(#[from] bulkhead_shm_transport::SendError),
    /// Receiving failed.
    #[error("waiting for HelloAck")]
    Recv(#[from] bulkhead_shm_transport::RecvError),
    /// dom0 did not answer in time.
    #[error("dom0 did not answer Hello within {0:?}")]
    Timeout(Duration),
    /// dom0 sent something else first, or garbage.
    #[error("dom0 broke the handshake: {0}")]
    Protocol(String),
    /// No common protocol version.
    #[error("protocol version")]
    Version(#[from] VersionError),
    /// Encoding `Hello` failed (a bug).
    #[error("encoding Hello")]
    Encode(#[from] bulkhead_protocol::EncodeError),
}

/// The agent's end of the shared-memory channel.
#[derive(Debug)]
pub struct TransportLink {
    endpoint: Endpoint,
    wire: Vec<u8>,
    version: Version,
    capabilities: Capabilities,
}

/// A connected link and what the handshake brought.
#[derive(Debug)]
pub struct Connected {
    /// The link.
    pub link: TransportLink,
    /// The output from `HelloAck`.
    pub output: OutputInfo,
    /// Messages dom0 sent right after `HelloAck` (the keymap, usually), in order.
    pub early: Vec<Dom0Message>,
    /// The socket: readable-then-EOF when dom0 hangs up.
    pub socket: Option<UnixStream>,
}

/// Decodes every protocol message in one ring message.
fn decode_all(mut bytes: &[u8], out: &mut Vec<Dom0Message>) -> Result<(), DecodeError> {
    while !bytes.is_empty() {
        let (message, rest) = Dom0Message::decode(bytes)?;
        out.push(message);
        bytes = rest;
    }
    Ok(())
}

impl TransportLink {
    /// Host mode: connects to dom0's socket at `path` and performs the handshake.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Connected, ConnectError> {
        let socket = UnixStream::connect(path).map_err(ConnectError::Socket)?;
        let handoff = receive_handoff(&socket)?;
        let endpoint = Endpoint::open_agent(handoff, &Config::default())?;
        let mut connected = Self::handshake(endpoint, timeout)?;
        connected.socket = Some(socket);
        Ok(connected)
    }

    /// VM mode: opens the GUI channel PCI device found under `sysfs` (device nodes in
    /// `dev_dir`) and performs the handshake. dom0 cannot hang up on a VM's agent: the
    /// channel lives as long as the VM.
    pub fn open_pci(
        sysfs: &Path,
        dev_dir: &Path,
        timeout: Duration,
    ) -> Result<Connected, ConnectError> {
        let endpoint = super::pci::open_endpoint(sysfs, dev_dir)?;
        Self::handshake(endpoint, timeout)
    }

    /// Sends `Hello` on an opened endpoint and waits for `HelloAck`.
    pub fn handshake(endpoint: Endpoint, timeout: Duration) -> Result<Connected, ConnectError> {
        let mut link = TransportLink {
            endpoint,
            wire: Vec::new(),
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::empty(),
        };
        let hello = AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: AGENT_CAPABILITIES,
        };
        hello.encode(&mut link.wire)?;
        link.endpoint.send_blocking(&link.wire, timeout)?;
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        while received.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match link.endpoint.recv_blocking(left)? {
                Some(bytes) => decode_all(&bytes, &mut received)
                    .map_err(|err| ConnectError::Protocol(err.to_string()))?,
                None => return Err(ConnectError::Timeout(timeout)),
            }
        }
        let mut messages = received.into_iter();
        let Some(Dom0Message::HelloAck {
            version,
            capabilities,
            output,
        }) = messages.next()
        else {
            return Err(ConnectError::Protocol(
                "first message is not HelloAck".to_owned(),
            ));
        };
        link.version = negotiate(PROTOCOL_VERSION, version)?;
        // Only what both sides know (dom0 sent the negotiated set; trust but intersect).
        link.capabilities = capabilities.intersection(AGENT_CAPABILITIES);
        tracing::info!(version = %link.version, ?output, "connected to dom0");
        Ok(Connected {
            link,
            output,
            early: messages.collect(),
            socket: None,
        })
    }

    /// The fd that becomes readable when dom0 rings (to register in the event loop).
    pub fn doorbell(&self) -> std::io::Result<OwnedFd> {
        self.endpoint.doorbell_fd().as_fd().try_clone_to_owned()
    }
}

impl DomLink for TransportLink {
    fn send(&mut self, message: AgentMessage) -> Result<(), LinkError> {
        self.wire.clear();
        message.encode(&mut self.wire)?;
        match self.endpoint.send(&self.wire) {
            Ok(SendStatus::Sent | SendStatus::Queued { .. }) => Ok(()),
            Err(err) => Err(LinkError::Transport(err.to_string())),
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn arena(&self) -> &Arena {
        self.endpoint.arena()
    }

    fn poll(&mut self) -> Result<Vec<Dom0Message>, LinkError> {
        let transport = |err: &dyn std::fmt::Display| LinkError::Transport(err.to_string());
        let mut messages = Vec::new();
        loop {
            self.endpoint
                .acknowledge_doorbell()
                .map_err(|e| transport(&e))?;
            self.endpoint.flush().map_err(|e| transport(&e))?;
            while let Some(bytes) = self.endpoint.recv().map_err(|e| transport(&e))? {
                decode_all(&bytes, &mut messages).map_err(|e| transport(&e))?;
            }
            if self.endpoint.prepare_wait().map_err(|e| transport(&e))? {
                return Ok(messages);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_protocol::{Dom0Message, WindowId};
    use bulkhead_shm_transport::channel_pair;

    fn dom0_send(dom0: &mut Endpoint, message: &Dom0Message) {
        let mut wire = Vec::new();
        message.encode(&mut wire).unwrap();
        dom0.send_blocking(&wire, Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn handshake_then_messages_both_ways() {
        let config = Config {
            arena_size: 1 << 20,
            ..Config::default()
        };
        let (mut dom0, agent) = channel_pair(&config).unwrap();
        let output = OutputInfo {
            width: 800,
            height: 600,
            scale_120: 240,
            refresh_mhz: 60_000,
        };
        let dom0_thread = std::thread::spawn(move || {
            let hello = dom0.recv_blocking(Duration::from_secs(5)).unwrap().unwrap();
            let (hello, _) = AgentMessage::decode(&hello).unwrap();
            assert!(matches!(hello, AgentMessage::Hello { .. }));
            dom0_send(
                &mut dom0,
                &Dom0Message::HelloAck {
                    version: PROTOCOL_VERSION,
                    capabilities: Capabilities::empty(),
                    output,
                },
            );
            let window = WindowId::new(7).unwrap();
            dom0_send(&mut dom0, &Dom0Message::Close { window });
            let map = dom0.recv_blocking(Duration::from_secs(5)).unwrap().unwrap();
            assert_eq!(
                AgentMessage::decode(&map).unwrap().0,
                AgentMessage::Map { window }
            );
            let mut pixels = [0u8; 4];
            dom0.arena()
                .region(4096, 4096)
                .unwrap()
                .read(8, &mut pixels)
                .unwrap();
            pixels
        });
        let Connected {
            link: mut agent,
            output: got,
            mut early,
            ..
        } = TransportLink::handshake(agent, Duration::from_secs(5)).unwrap();
        assert_eq!(got, output);
        let deadline = Instant::now() + Duration::from_secs(5);
        while early.is_empty() && Instant::now() < deadline {
            early = agent.poll().unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let window = WindowId::new(7).unwrap();
        assert_eq!(early, vec![Dom0Message::Close { window }]);
        agent
            .arena()
            .region(4096, 4096)
            .unwrap()
            .write(8, &[1, 2, 3, 4])
            .unwrap();
        agent.send(AgentMessage::Map { window }).unwrap();
        assert_eq!(dom0_thread.join().unwrap(), [1, 2, 3, 4]);
    }
}
