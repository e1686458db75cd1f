//! The manager against a stand-in compositor (a thread answering the control socket's
//! JSON lines) and stand-in qube processes (small shell scripts in place of the VMM or the
//! host agent): every error message, and that nothing is half done after a failure.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

/// A stand-in compositor: knows qubes, says they are connected when `connect` is set, and
/// records every request.
#[derive(Clone, Default)]
struct FakeDom0 {
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
    qubes: Arc<Mutex<Vec<(String, String)>>>,
    connect: Arc<AtomicBool>,
}

impl FakeDom0 {
    fn start(dir: &Path) -> (FakeDom0, PathBuf) {
        let path = dir.join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let fake = FakeDom0::default();
        fake.connect.store(true, Ordering::Release);
        let f = fake.clone();
        let sockets = dir.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                let req: serde_json::Value = serde_json::from_str(&line).unwrap();
                f.requests.lock().unwrap().push(req.clone());
                let answer = f.answer(&req, &sockets);
                let _ = writeln!(stream, "{answer}");
            }
        });
        (fake, path)
    }

    fn answer(&self, req: &serde_json::Value, dir: &Path) -> serde_json::Value {
        let mut qubes = self.qubes.lock().unwrap();
        let name = req["name"].as_str().unwrap_or_default().to_owned();
        match req["cmd"].as_str().unwrap() {
            "add-qube" => {
                if qubes.iter().any(|(n, _)| *n == name) {
                    return serde_json::json!({"ok": false, "error": format!("dom0 already knows a qube named {name}")});
                }
                qubes.push((name.clone(), req["label"].as_str().unwrap().to_owned()));
                serde_json::json!({"ok": true, "socket": dir.join(format!("qube-{name}.sock"))})
            }
            "remove-qube" => {
                let before = qubes.len();
                qubes.retain(|(n, _)| *n != name);
                if qubes.len() == before {
                    serde_json::json!({"ok": false, "error": "dom0 knows no qube"})
                } else {
                    serde_json::json!({"ok": true})
                }
            }
            "qubes" => {
                let connected = self.connect.load(Ordering::Acquire);
                let list: Vec<_> = qubes
                    .iter()
                    .map(|(n, l)| serde_json::json!({"name": n, "label": l, "windows": 0, "connected": connected}))
                    .collect();
                serde_json::json!({"ok": true, "qubes": list})
            }
            // The answer the compositor gives when the qube's agent reports ENOENT.
            "run" if req["argv"][0] == "no-such-program" => serde_json::json!({
                "ok": false,
                "error": "qube work could not start `no-such-program`: No such file or directory (os error 2)",
                "errno": 2,
            }),
            "run" => serde_json::json!({"ok": true}),
            other => panic!("unexpected request {other}"),
        }
    }

    fn commands(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r["cmd"] != "qubes")
            .map(|r| {
                format!(
                    "{} {}",
                    r["cmd"].as_str().unwrap(),
                    r["name"]
                        .as_str()
                        .or(r["qube"].as_str())
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    fn knows(&self, name: &str) -> bool {
        self.qubes.lock().unwrap().iter().any(|(n, _)| n == name)
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    dom0: FakeDom0,
    manager: Manager,
}

/// A manager in host mode whose "agent" is `script` (a shell script).
fn fixture(script: &str) -> Fixture {
    fixture_mode(script, Mode::Host)
}

fn fixture_mode(script: &str, mode: Mode) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (dom0, control) = FakeDom0::start(dir.path());
    let agent = dir.path().join("agent.sh");
    std::fs::write(&agent, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let manager = Manager::new(Settings {
        state_dir: dir.path().join("state"),
        control_socket: Some(control),
        mode,
        vmm: dir.path().join("no-vmm"),
        agent,
    })
    .unwrap();
    Fixture { dir, dom0, manager }
}

fn request(name: &str) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        label: "blue".into(),
        template: "debian-12".into(),
        mem_mib: 512,
        vcpus: 1,
        private_mib: 64,
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const SLEEPER: &str = "echo agent up; exec sleep 600";
const SECOND: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(20);

#[test]
fn create_checks_everything_first_and_leaves_nothing_on_error() {
    let mut f = fixture(SLEEPER);
    let cases: Vec<(CreateRequest, &str)> = vec![
        (
            CreateRequest {
                name: "9lives".into(),
                ..request("x")
            },
            "invalid name \"9lives\": qube name must start with an ASCII letter",
        ),
        (
            CreateRequest {
                name: "a/b".into(),
                ..request("x")
            },
            "only ASCII letters",
        ),
        (
            CreateRequest {
                name: String::new(),
                ..request("x")
            },
            "qube name is empty",
        ),
        (request("dom0"), "\"dom0\" is reserved"),
        (request("disp3"), "\"disp3\" is reserved"),
        (
            CreateRequest {
                label: "pink".into(),
                ..request("x")
            },
            "\"pink\" is not a label (expected one of",
        ),
        (
            CreateRequest {
                mem_mib: 16,
                ..request("x")
            },
            "memory (MiB) 16 is out of range 256..=65536",
        ),
        (
            CreateRequest {
                vcpus: 0,
                ..request("x")
            },
            "vCPUs 0 is out of range",
        ),
        (
            CreateRequest {
                private_mib: 2,
                ..request("x")
            },
            "private volume (MiB) 2 is out of range",
        ),
    ];
    for (req, msg) in cases {
        let err = f.manager.create(&req).unwrap_err().to_string();
        assert!(err.contains(msg), "{err:?} should say {msg:?}");
    }
    let qubes = f.dir.path().join("state/qubes");
    assert!(entries(&qubes).is_empty());

    let made = f.manager.create(&request("work")).unwrap();
    assert_eq!(made.label, "blue");
    assert_eq!(entries(&qubes), ["work"]);
    assert_eq!(entries(&qubes.join("work")), ["private.img", "qube.json"]);
    // The private volume is a sparse ext4 image of the size asked for.
    let img = std::fs::read(qubes.join("work/private.img")).unwrap();
    assert_eq!(img.len(), 64 << 20);
    assert_eq!(&img[1080..1082], &[0x53, 0xef], "ext4 magic");
    assert_eq!(f.manager.config("work").unwrap(), made);

    let err = f
        .manager
        .create(&CreateRequest {
            label: "red".into(),
            ..request("work")
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a qube named work exists already: choose another name, or remove it first with `bulkhead qube remove work`"
    );
    assert_eq!(
        f.manager.config("work").unwrap().label,
        "blue",
        "the old one is untouched"
    );

    // A failure half way (the staging directory cannot be made) leaves nothing behind.
    std::fs::write(
        qubes.join(format!(".new-mail-{}", std::process::id())),
        b"in the way",
    )
    .unwrap();
    assert!(f.manager.create(&request("mail")).is_err());
    assert!(!qubes.join("mail").exists());
    std::fs::remove_file(qubes.join(format!(".new-mail-{}", std::process::id()))).unwrap();
    f.manager.create(&request("mail")).unwrap();
}

#[test]
fn a_vm_qube_needs_its_template() {
    let mut f = fixture_mode(SLEEPER, Mode::Vm);
    let err = f.manager.create(&request("work")).unwrap_err().to_string();
    assert_eq!(
        err,
        "no template named debian-12 (there are no templates yet); build it with `bulkhead template build debian-12` (as root)"
    );
    let t = f.dir.path().join("state/templates/debian-12");
    std::fs::create_dir_all(&t).unwrap();
    store::write_json(
        &t.join(template::META),
        &template::TemplateMeta {
            name: "debian-12".into(),
            description: "test".into(),
            built_unix: 0,
        },
    )
    .unwrap();
    let err = f
        .manager
        .create(&CreateRequest {
            template: "fedora".into(),
            ..request("work")
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no template named fedora (templates: debian-12)"),
        "{err}"
    );
    let err = f.manager.create(&request("work")).unwrap_err().to_string();
    assert_eq!(
        err,
        "template debian-12 has no root.img: rebuild it with `bulkhead template build debian-12 --replace`"
    );
    for file in [template::ROOT_IMAGE, template::KERNEL, template::INITRD] {
        std::fs::write(t.join(file), b"x").unwrap();
    }
    f.manager.create(&request("work")).unwrap();
    assert!(entries(&f.dir.path().join("state/qubes")) == ["work"]);
}

#[test]
fn unknown_and_damaged_qubes_say_what_to_do() {
    let mut f = fixture(SLEEPER);
    let err = f.manager.start("work", WAIT).unwrap_err().to_string();
    assert_eq!(
        err,
        "no qube named work (there are no qubes yet); create it with `bulkhead qube create work --label LABEL`"
    );
    f.manager.create(&request("mail")).unwrap();
    let err = f.manager.stop("work", SECOND).unwrap_err().to_string();
    assert!(err.contains("no qube named work (qubes: mail)"), "{err}");
    // A name that would leave the state directory is just unknown.
    assert!(f.manager.config("../../etc").is_err());

    let path = f.dir.path().join("state/qubes/mail/qube.json");
    std::fs::write(&path, b"{ not json").unwrap();
    let err = f.manager.start("mail", WAIT).unwrap_err().to_string();
    assert!(
        err.contains("qube.json is damaged") && err.contains("fix or delete it"),
        "{err}"
    );
    let mut c = serde_json::to_value(QubeConfig {
        name: "other".into(),
        label: "blue".into(),
        template: "t".into(),
        mem_mib: 512,
        vcpus: 1,
        private_mib: 64,
        disposable: false,
        created_unix: 0,
    })
    .unwrap();
    std::fs::write(&path, c.to_string()).unwrap();
    let err = f.manager.start("mail", WAIT).unwrap_err().to_string();
    assert!(
        err.contains("it names qube \"other\", but lives in mail's directory"),
        "{err}"
    );
    c["name"] = "mail".into();
    c["vcpus"] = 99.into();
    std::fs::write(&path, c.to_string()).unwrap();
    let err = f.manager.start("mail", WAIT).unwrap_err().to_string();
    assert!(
        err.contains("vCPUs 99 is out of range 1..=32; fix or delete it"),
        "{err}"
    );
    // list shows the good ones and notes the broken one.
    f.manager.create(&request("work")).unwrap();
    let names: Vec<String> = f
        .manager
        .list()
        .unwrap()
        .into_iter()
        .map(|s| s.config.name)
        .collect();
    assert_eq!(names, ["work"]);
    assert!(
        f.manager
            .take_notes()
            .iter()
            .any(|n| n.starts_with("skipped mail:"))
    );
}

#[test]
fn start_stop_kill_remove() {
    let mut f = fixture(SLEEPER);
    f.manager.create(&request("work")).unwrap();
    let running = f.manager.start("work", WAIT).unwrap();
    assert!(running.process.is_alive());
    assert!(f.dom0.knows("work"));
    assert_eq!(running.socket, f.dir.path().join("qube-work.sock"));
    let err = f.manager.start("work", WAIT).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "qube work is already running (pid {}); stop it with `bulkhead qube stop work`",
            running.process.pid
        )
    );
    let err = f.manager.remove("work").unwrap_err().to_string();
    assert_eq!(
        err,
        "qube work is running: stop it first with `bulkhead qube stop work` (or `bulkhead qube kill work`)"
    );
    let listed = f.manager.list().unwrap();
    assert_eq!(
        listed[0].running.as_ref().map(|r| r.process.pid),
        Some(running.process.pid)
    );

    f.manager.stop("work", WAIT).unwrap();
    assert!(!running.process.is_alive());
    assert!(!f.dom0.knows("work"));
    assert!(!f.dir.path().join("state/qubes/work/running.json").exists());
    assert!(f.manager.take_notes().is_empty(), "it went on SIGTERM");
    let err = f.manager.stop("work", WAIT).unwrap_err().to_string();
    assert_eq!(
        err,
        "qube work is not running; start it with `bulkhead qube start work`"
    );

    let again = f.manager.start("work", WAIT).unwrap();
    f.manager.stop("work", Duration::ZERO).unwrap();
    assert!(!again.process.is_alive());
    f.manager.remove("work").unwrap();
    assert!(entries(&f.dir.path().join("state/qubes")).is_empty());
    assert_eq!(
        f.dom0.commands(),
        [
            "add-qube work",
            "remove-qube work",
            "add-qube work",
            "remove-qube work"
        ]
    );
}

#[test]
fn stop_kills_a_qube_that_ignores_sigterm() {
    let mut f = fixture("trap '' TERM; echo up; exec sleep 600");
    f.manager.create(&request("work")).unwrap();
    let running = f.manager.start("work", WAIT).unwrap();
    // Let the trap be set before stopping.
    let log = f.dir.path().join("state/qubes/work/vmm.log");
    let end = Instant::now() + WAIT;
    while process::log_tail(&log, 1) != "up" && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    f.manager.stop("work", SECOND).unwrap();
    assert!(!running.process.is_alive());
    assert_eq!(
        f.manager.take_notes(),
        ["qube work did not stop within 1 s; killed it"]
    );
}

#[test]
fn a_start_that_fails_undoes_itself() {
    let mut f = fixture("echo 'cannot map the GUI channel' >&2; exit 3");
    // The stand-in compositor would call any qube connected at once: not this one.
    f.dom0.connect.store(false, Ordering::Release);
    f.manager.create(&request("work")).unwrap();
    let err = f.manager.start("work", WAIT).unwrap_err().to_string();
    assert!(
        err.starts_with("qube work stopped while starting; the end of"),
        "{err}"
    );
    assert!(err.ends_with("cannot map the GUI channel"), "{err}");
    assert!(!f.dom0.knows("work"));
    assert_eq!(
        entries(&f.dir.path().join("state/qubes/work")),
        ["private.img", "qube.json", "vmm.log"]
    );

    // An agent that never connects is stopped again after the timeout.
    let mut f = fixture(SLEEPER);
    f.dom0.connect.store(false, Ordering::Release);
    f.manager.create(&request("work")).unwrap();
    let err = f.manager.start("work", SECOND).unwrap_err().to_string();
    assert!(err.starts_with("qube work's agent did not connect to the compositor within 1 s, so it was stopped again;"), "{err}");
    assert!(!f.dom0.knows("work"));
    assert!(!f.dir.path().join("state/qubes/work/running.json").exists());

    // No compositor: nothing starts.
    let mut f = fixture(SLEEPER);
    f.manager.create(&request("work")).unwrap();
    std::fs::remove_file(f.dir.path().join("control.sock")).unwrap();
    let err = f.manager.start("work", WAIT).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot reach the compositor at")
            && err.ends_with("start bulkhead-compositor first (or pass --control-socket)"),
        "{err}"
    );
    assert!(!f.dir.path().join("state/qubes/work/running.json").exists());

    // No socket known at all (no XDG_RUNTIME_DIR, no --control-socket).
    let mut f = fixture(SLEEPER);
    f.manager.dom0 = Dom0::new(None);
    f.manager.create(&request("work")).unwrap();
    let err = f.manager.start("work", WAIT).unwrap_err().to_string();
    assert_eq!(
        err,
        "no compositor socket: set XDG_RUNTIME_DIR or pass --control-socket"
    );

    // A missing binary.
    let mut f = fixture(SLEEPER);
    f.manager.settings.agent = f.dir.path().join("nowhere/bulkhead-guest-agent");
    f.manager.create(&request("work")).unwrap();
    let err = f.manager.start("work", WAIT).unwrap_err().to_string();
    assert!(
        err.contains("nowhere/bulkhead-guest-agent") && err.contains("build it"),
        "{err}"
    );
    assert!(!f.dom0.knows("work"));
}

#[test]
fn a_stale_running_record_is_cleaned_up() {
    let mut f = fixture(SLEEPER);
    f.manager.create(&request("work")).unwrap();
    let running = f.manager.start("work", WAIT).unwrap();
    // The qube dies behind the manager's back (a crash, a guest power-off).
    running.process.signal(libc::SIGKILL, true);
    assert!(running.process.wait_gone(WAIT, None));
    let err = f.manager.stop("work", SECOND).unwrap_err().to_string();
    assert_eq!(
        err,
        "qube work is not running; start it with `bulkhead qube start work`"
    );
    let notes = f.manager.take_notes();
    assert!(
        notes[0].starts_with(&format!(
            "qube work had stopped by itself (its process {} is gone)",
            running.process.pid
        )),
        "{notes:?}"
    );
    assert!(!f.dom0.knows("work"));
    assert!(!f.dir.path().join("state/qubes/work/running.json").exists());
    // And it starts again.
    f.manager.start("work", WAIT).unwrap();
    f.manager.stop("work", Duration::ZERO).unwrap();
}

#[test]
fn run_checks_the_command_line_before_starting_anything() {
    let mut f = fixture(SLEEPER);
    f.manager.create(&request("work")).unwrap();
    for (argv, msg) in [
        (vec![], "command line has no program"),
        (vec![String::new()], "command line has no program"),
        (vec!["a\0b".to_owned()], "NUL"),
        (vec!["x".to_owned(); 65], "65 arguments, maximum is 64"),
    ] {
        let err = f.manager.run("work", &argv, WAIT).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot run that command line") && err.contains(msg),
            "{err}"
        );
    }
    assert!(f.dom0.commands().is_empty());
    f.manager.run("work", &["foot".into()], WAIT).unwrap();
    f.manager
        .run("work", &["foot".into(), "-e".into(), "top".into()], WAIT)
        .unwrap();
    assert_eq!(f.dom0.commands(), ["add-qube work", "run work", "run work"]);
    let sent: Vec<serde_json::Value> = f
        .dom0
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r["cmd"] == "run")
        .cloned()
        .collect();
    assert_eq!(sent[1]["argv"], serde_json::json!(["foot", "-e", "top"]));
    f.manager.stop("work", Duration::ZERO).unwrap();
}

#[test]
fn run_says_when_the_program_did_not_start() {
    let mut f = fixture(SLEEPER);
    f.manager.create(&request("work")).unwrap();
    let err = f
        .manager
        .run("work", &["no-such-program".into()], WAIT)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "qube work could not start `no-such-program`: No such file or directory (os error 2)"
    );
    assert!(
        matches!(
            err,
            ManagerError::Dom0(Dom0Error::Run { errno: Some(2), .. })
        ),
        "{err:?}"
    );
    // The qube it started for the program keeps running; the next program starts.
    f.manager.run("work", &["foot".into()], WAIT).unwrap();
    assert_eq!(f.dom0.commands(), ["add-qube work", "run work", "run work"]);
    f.manager.stop("work", Duration::ZERO).unwrap();
}

#[test]
fn vmm_arguments() {
    let dir = Path::new("/s/qubes/work");
    let t = Template {
        meta: template::TemplateMeta {
            name: "debian-12".into(),
            description: String::new(),
            built_unix: 0,
        },
        dir: PathBuf::from("/s/templates/debian-12"),
        disk_bytes: 0,
        image_bytes: 0,
    };
    let config = QubeConfig {
        name: "work".into(),
        label: "blue".into(),
        template: "debian-12".into(),
        mem_mib: 2048,
        vcpus: 4,
        private_mib: 64,
        disposable: false,
        created_unix: 0,
    };
    let args: Vec<String> = vmm_args(&config, &t, Path::new("/run/q.sock"), dir)
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(
        args.join(" "),
        "--kernel /s/templates/debian-12/vmlinuz --initramfs /s/templates/debian-12/initrd.img \
         --cmdline console=ttyS0 root=/dev/vda rw reboot=k panic=-1 quiet systemd.hostname=work \
         --vcpus 4 --mem-mib 2048 --console /s/qubes/work/console.log --stop-grace-secs 3600 --gui-socket /run/q.sock \
         --disk /s/templates/debian-12/root.img,cow=/s/qubes/work/root-cow.img \
         --disk /s/qubes/work/private.img"
    );
    let disposable = QubeConfig {
        disposable: true,
        private_mib: 0,
        ..config
    };
    let args: Vec<String> = vmm_args(&disposable, &t, Path::new("/run/q.sock"), dir)
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(
        args[args.len() - 2..],
        [
            "--disk",
            "/s/templates/debian-12/root.img,disposable=/s/qubes/work"
        ]
    );
    // No private volume, so the template's /home/user mount must not wait for /dev/vdb.
    let cmdline = &args[args.iter().position(|a| a == "--cmdline").unwrap() + 1];
    assert!(
        cmdline.ends_with("systemd.hostname=work systemd.mask=home-user.mount"),
        "{cmdline}"
    );
}

#[test]
fn stopping_a_host_qube_ends_what_its_agent_started() {
    // The "agent" starts a program that ignores SIGTERM, as an app might.
    let mut f =
        fixture("sh -c 'trap \"\" TERM; exec sleep 600' & echo $! > \"$0.child\"; exec sleep 600");
    f.manager.create(&request("work")).unwrap();
    f.manager.start("work", WAIT).unwrap();
    let marker = f.dir.path().join("agent.sh.child");
    let end = Instant::now() + WAIT;
    while !marker.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&marker).unwrap();
    let child = process::ProcessRecord::of(text.trim().parse().unwrap()).unwrap();
    assert!(child.is_alive());
    f.manager.stop("work", WAIT).unwrap();
    assert!(
        child.wait_gone(WAIT, None),
        "the agent's program outlived the qube"
    );
}
