//! Creating a region (dom0), handing its fds to the agent over a Unix socket, opening it
//! (agent), and an in-process pair for tests.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use crate::doorbell::EventFd;
use crate::endpoint::{Endpoint, Role};
use crate::error::SetupError;
use crate::layout::{HEADER_BYTES, Header, Layout};
use crate::shared::SharedMemory;
use crate::{Config, Doorbell, IncomingDoorbell};

/// The three descriptors the agent (or the VMM) needs: the region and both doorbells.
#[derive(Debug)]
pub struct Handoff {
    /// The region's memfd (sealed against shrinking and growing).
    pub memfd: OwnedFd,
    /// dom0's incoming doorbell: the agent rings it (under KVM: an ioeventfd).
    pub dom0_bell: OwnedFd,
    /// The agent's incoming doorbell: dom0 rings it (under KVM: an irqfd).
    pub agent_bell: OwnedFd,
}

/// One byte of payload so the ancillary data has a message to ride on.
const HANDOFF_TAG: u8 = b'B';

impl Endpoint {
    /// dom0: creates a region for `config` (memfd, sealed against shrinking), writes its
    /// header, makes both doorbells, and returns dom0's endpoint plus the descriptors to
    /// hand to the agent or the VMM.
    pub fn create_dom0(config: &Config) -> Result<(Self, Handoff), SetupError> {
        let layout = Layout::for_config(config)?;
        let memfd = rustix::fs::memfd_create(
            "bulkhead-shm",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| SetupError::Io {
            what: "memfd_create",
            source: e.into(),
        })?;
        rustix::fs::ftruncate(&memfd, layout.region_size as u64).map_err(|e| SetupError::Io {
            what: "ftruncate",
            source: e.into(),
        })?;
        rustix::fs::fcntl_add_seals(
            &memfd,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )
        .map_err(|e| SetupError::Io {
            what: "sealing the memfd",
            source: e.into(),
        })?;
        let mem = SharedMemory::map(&memfd, 0, layout.region_size)
            .map_err(SetupError::io("mapping the region"))?;
        mem.write_racy(0, &layout.header().encode());
        let dom0_bell = EventFd::new().map_err(SetupError::io("eventfd"))?;
        let agent_bell = EventFd::new().map_err(SetupError::io("eventfd"))?;
        let handoff = Handoff {
            memfd,
            dom0_bell: dom0_bell.try_clone_fd().map_err(SetupError::io("dup"))?,
            agent_bell: agent_bell.try_clone_fd().map_err(SetupError::io("dup"))?,
        };
        let endpoint = Self::assemble(
            Role::Dom0,
            mem,
            layout,
            config,
            Box::new(agent_bell),
            Box::new(dom0_bell),
        )?;
        Ok((endpoint, handoff))
    }

    /// Agent on the host: maps the handed-off region, validates its header, and returns
    /// the agent's endpoint. Ring and arena sizes come from the header; `config` supplies
    /// only the message and queue limits.
    pub fn open_agent(handoff: Handoff, config: &Config) -> Result<Self, SetupError> {
        let stat = rustix::fs::fstat(&handoff.memfd).map_err(|e| SetupError::Io {
            what: "fstat",
            source: e.into(),
        })?;
        let size = usize::try_from(stat.st_size)
            .map_err(|_| SetupError::BadHeader("shared memory object has no usable size"))?;
        if size < HEADER_BYTES {
            return Err(SetupError::BadHeader("shared memory object is too small"));
        }
        let mem = SharedMemory::map(&handoff.memfd, 0, size)
            .map_err(SetupError::io("mapping the region"))?;
        let peer = EventFd::from_fd(handoff.dom0_bell).map_err(SetupError::io("eventfd"))?;
        let incoming = EventFd::from_fd(handoff.agent_bell).map_err(SetupError::io("eventfd"))?;
        Self::open_agent_mapping(mem, config, Box::new(peer), Box::new(incoming))
    }

    /// Agent with any mapping and doorbells (in a VM: the PCI BAR, a BAR register and
    /// `/dev/uioN`): validates the header found in `mem`.
    pub fn open_agent_mapping(
        mem: SharedMemory,
        config: &Config,
        peer_bell: Box<dyn Doorbell>,
        incoming: Box<dyn IncomingDoorbell>,
    ) -> Result<Self, SetupError> {
        if mem.len() < HEADER_BYTES {
            return Err(SetupError::BadHeader("shared memory object is too small"));
        }
        let mut bytes = [0u8; HEADER_BYTES];
        mem.read_racy(0, &mut bytes);
        let header = Header::decode(&bytes);
        let layout = Layout::from_header(&header, mem.len() as u64)?;
        Self::assemble(Role::Agent, mem, layout, config, peer_bell, incoming)
    }
}

/// Sends the three descriptors over a connected Unix stream socket (SCM_RIGHTS).
pub fn send_handoff(socket: impl AsFd, handoff: &Handoff) -> Result<(), SetupError> {
    let fds = [
        handoff.memfd.as_fd(),
        handoff.dom0_bell.as_fd(),
        handoff.agent_bell.as_fd(),
    ];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(SetupError::InvalidConfig("ancillary buffer too small"));
    }
    let tag = [HANDOFF_TAG];
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(&tag)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|e| SetupError::Io {
        what: "sendmsg",
        source: e.into(),
    })?;
    Ok(())
}

/// Receives the descriptors sent by [`send_handoff`] (blocks until they arrive).
pub fn receive_handoff(socket: impl AsFd) -> Result<Handoff, SetupError> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut tag = [0u8; 1];
    let msg = rustix::net::recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut tag)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| SetupError::Io {
        what: "recvmsg",
        source: e.into(),
    })?;
    let mut fds: Vec<OwnedFd> = Vec::with_capacity(3);
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if msg.bytes != 1 || tag[0] != HANDOFF_TAG || fds.len() != 3 {
        return Err(SetupError::BadHandoff {
            received: fds.len(),
        });
    }
    let mut fds = fds.into_iter();
    let (Some(memfd), Some(dom0_bell), Some(agent_bell)) = (fds.next(), fds.next(), fds.next())
    else {
        return Err(SetupError::BadHandoff { received: 0 });
    };
    Ok(Handoff {
        memfd,
        dom0_bell,
        agent_bell,
    })
}

/// Both endpoints in one process (the region mapped twice), for tests and benchmarks.
/// Returns `(dom0, agent)`.
pub fn channel_pair(config: &Config) -> Result<(Endpoint, Endpoint), SetupError> {
    let (dom0, handoff) = Endpoint::create_dom0(config)?;
    let agent = Endpoint::open_agent(handoff, config)?;
    Ok((dom0, agent))
}
