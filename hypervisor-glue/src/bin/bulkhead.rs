//! `bulkhead`: the qube manager's command line.
//!
//! ```text
//! bulkhead qube create NAME --label LABEL [--template T] [--mem MIB] [--vcpus N] [--private MIB]
//! bulkhead qube list | start NAME | stop NAME | kill NAME | remove NAME
//! bulkhead run QUBE -- COMMAND [ARG…]
//! bulkhead run --disposable [--template T] [--label L] -- COMMAND [ARG…]
//! bulkhead template list | build [NAME] [--agent-deb PATH] [--mirror URL] [--replace]
//! ```
//!
//! Exit status: 0 done, 1 the command failed (the message says why and what to do),
//! 2 bad usage.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use bulkhead_hypervisor_glue::manager::build::{BuildRequest, DEFAULT_MIRROR};
use bulkhead_hypervisor_glue::manager::qube::{
    DEFAULT_MEM_MIB, DEFAULT_PRIVATE_MIB, DEFAULT_TEMPLATE, DEFAULT_VCPUS, Mode,
};
use bulkhead_hypervisor_glue::manager::template::human_bytes;
use bulkhead_hypervisor_glue::manager::{
    CreateRequest, Manager, ManagerError, Settings, default_state_dir, dom0, sibling_binary,
};
use clap::{Parser, Subcommand};

/// Bulkhead's qube manager: create, start and stop qubes, run programs in them, build
/// templates.
#[derive(Debug, Parser)]
#[command(name = "bulkhead", version)]
struct Cli {
    /// Where qubes and templates are kept [default: $XDG_DATA_HOME/bulkhead].
    #[arg(long, global = true, value_name = "DIR", env = "BULKHEAD_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// The compositor's control socket [default: $XDG_RUNTIME_DIR/bulkhead/control.sock].
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "BULKHEAD_CONTROL_SOCKET"
    )]
    control_socket: Option<PathBuf>,
    /// Run each qube's agent as a host process instead of in a VM (development and tests:
    /// this isolates nothing).
    #[arg(long, global = true, env = "BULKHEAD_HOST_AGENTS")]
    host_agents: bool,
    /// The VMM binary [default: bulkhead-vmm beside this program].
    #[arg(long, global = true, value_name = "PATH")]
    vmm: Option<PathBuf>,
    /// The guest agent binary for --host-agents [default: bulkhead-guest-agent beside this
    /// program].
    #[arg(long, global = true, value_name = "PATH")]
    agent: Option<PathBuf>,
    #[command(subcommand)]
    command: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    /// Create, list, start, stop and remove qubes.
    #[command(subcommand)]
    Qube(QubeCmd),
    /// Run a program in a qube (started first if needed), or in a new disposable qube.
    Run(RunArgs),
    /// List and build templates.
    #[command(subcommand)]
    Template(TemplateCmd),
}

#[derive(Debug, Subcommand)]
enum QubeCmd {
    /// Create a qube (stopped).
    Create {
        /// Its name: a letter, then letters, digits, '-' or '_' (at most 31).
        name: String,
        /// Its label: red, orange, yellow, green, gray, blue, purple or black.
        #[arg(long)]
        label: String,
        /// The template it runs on.
        #[arg(long, default_value = DEFAULT_TEMPLATE)]
        template: String,
        /// Memory in MiB.
        #[arg(long, default_value_t = DEFAULT_MEM_MIB)]
        mem: u64,
        /// Virtual CPUs.
        #[arg(long, default_value_t = DEFAULT_VCPUS)]
        vcpus: u8,
        /// Size of its private volume (its /home/user) in MiB.
        #[arg(long, default_value_t = DEFAULT_PRIVATE_MIB)]
        private: u64,
    },
    /// List qubes and whether they run.
    List,
    /// Start a qube and wait until its agent is connected.
    Start {
        /// The qube.
        name: String,
        /// How long it may take to boot, in seconds.
        #[arg(long, default_value_t = 120, env = "BULKHEAD_BOOT_TIMEOUT")]
        timeout: u64,
    },
    /// Stop a qube: ask it to go, wait, then kill it.
    Stop {
        /// The qube.
        name: String,
        /// Seconds it gets to stop before it is killed.
        #[arg(long, default_value_t = 30)]
        grace: u64,
    },
    /// Kill a qube at once.
    Kill {
        /// The qube.
        name: String,
    },
    /// Remove a stopped qube with its private volume.
    Remove {
        /// The qube.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The qube (not with --disposable).
    #[arg(required_unless_present = "disposable", conflicts_with = "disposable")]
    qube: Option<String>,
    /// Run in a new disposable qube that goes, with all it wrote, when the program's last
    /// window closes (this command waits until then).
    #[arg(long)]
    disposable: bool,
    /// The disposable's template [default: debian-12].
    #[arg(long, conflicts_with = "qube")]
    template: Option<String>,
    /// The disposable's label [default: red].
    #[arg(long, conflicts_with = "qube")]
    label: Option<String>,
    /// Seconds the qube may take to start (and a disposable's program to show a window).
    #[arg(long, default_value_t = 120, env = "BULKHEAD_BOOT_TIMEOUT")]
    timeout: u64,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum TemplateCmd {
    /// List templates with their size and build date.
    List,
    /// Build a Debian 12 template with debootstrap (needs root; several minutes).
    Build {
        /// Its name.
        #[arg(default_value = DEFAULT_TEMPLATE)]
        name: String,
        /// The guest agent's Debian package [default: the newest
        /// bulkhead-guest-agent_*.deb in target/debian beside this program].
        #[arg(long, value_name = "PATH")]
        agent_deb: Option<PathBuf>,
        /// The Debian mirror.
        #[arg(long, default_value = DEFAULT_MIRROR)]
        mirror: String,
        /// Replace a template of that name (refused while qubes use it).
        #[arg(long)]
        replace: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bulkhead: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli) -> Result<Settings, String> {
    let state_dir = cli
        .state_dir
        .clone()
        .or_else(default_state_dir)
        .ok_or("no state directory: set XDG_DATA_HOME or HOME, or pass --state-dir")?;
    let control_socket = cli
        .control_socket
        .clone()
        .or_else(dom0::default_control_socket);
    Ok(Settings {
        state_dir,
        control_socket,
        mode: if cli.host_agents {
            Mode::Host
        } else {
            Mode::Vm
        },
        vmm: cli
            .vmm
            .clone()
            .unwrap_or_else(|| sibling_binary("bulkhead-vmm")),
        agent: cli
            .agent
            .clone()
            .unwrap_or_else(|| sibling_binary("bulkhead-guest-agent")),
    })
}

fn run(cli: Cli) -> Result<(), String> {
    let mut manager = Manager::new(settings(&cli)?).map_err(|e| e.to_string())?;
    let result = dispatch(&mut manager, cli.command);
    for note in manager.take_notes() {
        eprintln!("bulkhead: {note}");
    }
    result.map_err(|e| e.to_string())
}

fn dispatch(m: &mut Manager, command: Top) -> Result<(), ManagerError> {
    match command {
        Top::Qube(QubeCmd::Create {
            name,
            label,
            template,
            mem,
            vcpus,
            private,
        }) => {
            let c = m.create(&CreateRequest {
                name,
                label,
                template,
                mem_mib: mem,
                vcpus,
                private_mib: private,
            })?;
            println!(
                "created qube {} ({}, template {}, {} MiB, {} vCPUs, {} MiB private)",
                c.name, c.label, c.template, c.mem_mib, c.vcpus, c.private_mib
            );
        }
        Top::Qube(QubeCmd::List) => {
            let qubes = m.list()?;
            println!(
                "{:<20} {:<7} {:<14} {:>7} {:>5}  STATE",
                "NAME", "LABEL", "TEMPLATE", "MEM", "VCPUS"
            );
            for q in qubes {
                let c = &q.config;
                let state = match &q.running {
                    Some(r) => format!("running (pid {})", r.process.pid),
                    None => "stopped".to_owned(),
                };
                let name = if c.disposable {
                    format!("{} (disposable)", c.name)
                } else {
                    c.name.clone()
                };
                println!(
                    "{:<20} {:<7} {:<14} {:>7} {:>5}  {state}",
                    name, c.label, c.template, c.mem_mib, c.vcpus
                );
            }
        }
        Top::Qube(QubeCmd::Start { name, timeout }) => {
            let r = m.start(&name, Duration::from_secs(timeout))?;
            println!("qube {name} is running (pid {})", r.process.pid);
        }
        Top::Qube(QubeCmd::Stop { name, grace }) => {
            m.stop(&name, Duration::from_secs(grace.max(1)))?;
            println!("qube {name} stopped");
        }
        Top::Qube(QubeCmd::Kill { name }) => {
            m.stop(&name, Duration::ZERO)?;
            println!("qube {name} killed");
        }
        Top::Qube(QubeCmd::Remove { name }) => {
            m.remove(&name)?;
            println!("qube {name} removed");
        }
        Top::Run(args) => {
            let timeout = Duration::from_secs(args.timeout);
            if args.disposable {
                let template = args.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
                let label = args.label.as_deref().unwrap_or("red");
                let name = m.run_disposable(template, label, &args.command, timeout)?;
                println!("disposable qube {name} is gone");
            } else {
                let qube = args.qube.unwrap_or_default();
                m.run(&qube, &args.command, timeout)?;
                println!("started {} in qube {qube}", args.command[0]);
            }
        }
        Top::Template(TemplateCmd::List) => {
            println!(
                "{:<16} {:>10} {:>10}  {:<20} DESCRIPTION",
                "NAME", "IMAGE", "ON DISK", "BUILT (UTC)"
            );
            for t in m.templates()? {
                println!(
                    "{:<16} {:>10} {:>10}  {:<20} {}",
                    t.meta.name,
                    human_bytes(t.image_bytes),
                    human_bytes(t.disk_bytes),
                    utc(t.meta.built_unix),
                    t.meta.description
                );
            }
        }
        Top::Template(TemplateCmd::Build {
            name,
            agent_deb,
            mirror,
            replace,
        }) => {
            let agent_deb = agent_deb.unwrap_or_else(default_agent_deb);
            let t = m.build_template(
                &BuildRequest {
                    name,
                    agent_deb,
                    mirror,
                    replace,
                },
                Box::new(|line: &str| eprintln!("{line}")),
            )?;
            println!(
                "template {} built: {} ({} image)",
                t.meta.name,
                t.dir.display(),
                human_bytes(t.image_bytes)
            );
        }
    }
    Ok(())
}

/// The newest `bulkhead-guest-agent_*.deb` in `target/debian` (cargo-deb's output), found
/// from this program's place in `target/<profile>/`.
fn default_agent_deb() -> PathBuf {
    let debian = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|t| t.join("debian")))
        .unwrap_or_else(|| PathBuf::from("target/debian"));
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&debian)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("bulkhead-guest-agent_") && n.ends_with(".deb")
            })
        })
        .collect();
    debs.sort_by_key(|p| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(UNIX_EPOCH)
    });
    debs.pop()
        .unwrap_or_else(|| debian.join("bulkhead-guest-agent_VERSION_amd64.deb"))
}

/// `2026-11-23 01:53` from seconds since the epoch (UTC, no time-zone database needed).
fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let (h, mi) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bulkhead").chain(args.iter().copied()))
    }

    #[test]
    fn parses_every_command() {
        let c = parse(&[
            "qube", "create", "work", "--label", "blue", "--mem", "2048", "--vcpus", "4",
        ])
        .unwrap();
        match c.command {
            Top::Qube(QubeCmd::Create {
                name,
                label,
                template,
                mem,
                vcpus,
                private,
            }) => {
                assert_eq!(
                    (name.as_str(), label.as_str(), template.as_str()),
                    ("work", "blue", DEFAULT_TEMPLATE)
                );
                assert_eq!((mem, vcpus, private), (2048, 4, DEFAULT_PRIVATE_MIB));
            }
            other => panic!("{other:?}"),
        }
        let c = parse(&["run", "work", "--", "foot", "-e", "top"]).unwrap();
        match c.command {
            Top::Run(r) => {
                assert_eq!(r.qube.as_deref(), Some("work"));
                assert_eq!(r.command, ["foot", "-e", "top"]);
                assert!(!r.disposable);
            }
            other => panic!("{other:?}"),
        }
        let c = parse(&[
            "--host-agents",
            "run",
            "--disposable",
            "--template",
            "t",
            "--",
            "weston-terminal",
        ])
        .unwrap();
        assert!(c.host_agents);
        match c.command {
            Top::Run(r) => {
                assert!(r.disposable && r.qube.is_none());
                assert_eq!((r.template.as_deref(), r.label), (Some("t"), None));
            }
            other => panic!("{other:?}"),
        }
        for ok in [
            &["qube", "list"][..],
            &["qube", "start", "work", "--timeout", "5"],
            &["qube", "stop", "work", "--grace", "3"],
            &["qube", "kill", "work"],
            &["qube", "remove", "work"],
            &["template", "list"],
            &["template", "build"],
            &[
                "template",
                "build",
                "deb",
                "--replace",
                "--agent-deb",
                "/x.deb",
            ],
            &[
                "qube",
                "list",
                "--state-dir",
                "/s",
                "--control-socket",
                "/c",
            ],
        ] {
            assert!(parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn refuses_bad_usage() {
        for bad in [
            &["qube", "create", "work"][..], // no label
            &["qube", "create", "work", "--label", "blue", "--mem", "lots"],
            &[
                "qube", "create", "work", "--label", "blue", "--vcpus", "300",
            ],
            &["run", "work"],         // no command
            &["run", "work", "foot"], // the command needs --
            &["run", "--", "foot"],   // no qube
            &["run", "work", "--disposable", "--", "foot"],
            &["run", "work", "--template", "t", "--", "foot"], // --template needs --disposable
            &["qube", "frobnicate"],
            &["template", "build", "a", "b"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc(1_795_398_780), "2026-11-23 01:53");
    }
}
