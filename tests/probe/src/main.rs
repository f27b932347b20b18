//! A test-only probe: what code that climbed the wasm wall could do from where the runner
//! runs. It is never part of a production image: `tests/all/probe.rs` builds it into an
//! image made exactly like a jail's (the runner's place, `USER 65534:65534`, `FROM
//! scratch`) and runs it with the jail's own container settings.
//!
//! Like the runner, it reads its instructions from stdin: one line.
//! - `walls`: tries each wall of the container and prints one JSON document on stdout,
//!   `{"attempts": [...]}`, each attempt with an `id`, what it tried (`what`), and what
//!   happened: `ok` plus `errno`/`error` for a system call, or `found` for a search.
//! - `memory`: allocates and touches memory in 16 MiB chunks, printing
//!   `{"allocated_mib": n}` after each, until the kernel kills it.
//!
//! It judges nothing: the test asserts. It sends no traffic anywhere; it only looks at
//! interfaces and asks for a route.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::ffi::CString;
use std::io::{BufRead, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

fn main() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    match line.trim() {
        "walls" => {
            let attempts = walls();
            println!("{}", json!({ "attempts": attempts }));
        }
        "memory" => memory(),
        other => {
            eprintln!("probe: unknown mode {other:?}; expected `walls` or `memory`");
            std::process::exit(2);
        }
    }
}

/// The attempts, in order; each is one JSON object.
#[derive(Default)]
struct Report(Vec<Value>);

impl Report {
    /// A system call's outcome: `Ok(return value)` or `Err(errno)`.
    fn call(&mut self, id: &str, what: &str, result: Result<i64, i32>) {
        let mut entry = json!({ "id": id, "what": what, "ok": result.is_ok() });
        match result {
            Ok(value) => entry["value"] = json!(value),
            Err(errno) => {
                entry["errno"] = json!(errno_name(errno));
                entry["error"] = json!(std::io::Error::from_raw_os_error(errno).to_string());
            }
        }
        self.0.push(entry);
    }

    /// What a search found.
    fn found(&mut self, id: &str, what: &str, found: impl IntoIterator<Item = String>) {
        let found: Vec<String> = found.into_iter().collect();
        self.0
            .push(json!({ "id": id, "what": what, "found": found }));
    }

    /// Anything else, as it was observed.
    fn observed(&mut self, id: &str, what: &str, observed: Value) {
        self.0
            .push(json!({ "id": id, "what": what, "observed": observed }));
    }
}

fn walls() -> Vec<Value> {
    let mut report = Report::default();
    identity(&mut report);
    filesystem(&mut report);
    walk(&mut report);
    network(&mut report);
    privileges(&mut report);
    binaries(&mut report);
    descriptors(&mut report);
    // Last: these fill the pids limit, and leave it empty again when done.
    processes(&mut report);
    threads(&mut report);
    report.0
}

// ---- who the probe is -----------------------------------------------------------------

fn identity(report: &mut Report) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let mut groups = vec![0 as libc::gid_t; 64];
    // SAFETY: the buffer holds 64 gids and we pass that length.
    let n = unsafe { libc::getgroups(64, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    let exe = std::fs::read_link("/proc/self/exe")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    report.observed(
        "identity",
        "who the probe runs as",
        json!({
            // SAFETY: these calls have no arguments and cannot fail.
            "uid": unsafe { libc::getuid() },
            "euid": unsafe { libc::geteuid() },
            "gid": unsafe { libc::getgid() },
            "groups": groups,
            "pid": std::process::id(),
            "exe": exe,
            "cap_inh": field("CapInh"),
            "cap_prm": field("CapPrm"),
            "cap_eff": field("CapEff"),
            "cap_bnd": field("CapBnd"),
            "cap_amb": field("CapAmb"),
            "no_new_privs": field("NoNewPrivs"),
            "seccomp": field("Seccomp"),
        }),
    );
}

// ---- the filesystem ---------------------------------------------------------------------

fn filesystem(report: &mut Report) {
    let create = |path: &str| {
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path);
        if result.is_ok() {
            let _ = std::fs::remove_file(path);
        }
        io(result.map(|_| 0))
    };
    report.call(
        "fs.create-in-root",
        "create a file in /",
        create("/probe-was-here"),
    );
    report.call(
        "fs.mkdir-in-root",
        "make a directory in / (/tmp does not exist in a FROM scratch image)",
        io(std::fs::create_dir("/tmp").map(|_| 0)),
    );
    for (id, path) in [
        ("fs.create-in-tmp", "/tmp/probe-was-here"),
        ("fs.create-in-var-tmp", "/var/tmp/probe-was-here"),
        ("fs.create-in-dev-shm", "/dev/shm/probe-was-here"),
        ("fs.create-in-dev", "/dev/probe-was-here"),
        ("fs.create-in-proc", "/proc/probe-was-here"),
        ("fs.create-in-sys", "/sys/probe-was-here"),
    ] {
        report.call(id, &format!("create {path}"), create(path));
    }
    let me = std::fs::read_link("/proc/self/exe").unwrap_or_else(|_| "/jail-runner".into());
    let me = me.to_string_lossy();
    report.call(
        "fs.write-own-binary",
        &format!("open its own binary {me} for writing"),
        io(std::fs::OpenOptions::new()
            .write(true)
            .open(&*me)
            .map(|_| 0)),
    );
    report.call(
        "fs.chmod-own-binary",
        &format!("chmod 4777 its own binary {me}"),
        libc_call(|| {
            let path = cstr(&me);
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::chmod(path.as_ptr(), 0o4777) }.into()
        }),
    );
    report.call(
        "fs.chown-own-binary",
        &format!("chown its own binary {me} to 65534"),
        libc_call(|| {
            let path = cstr(&me);
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::chown(path.as_ptr(), 65534, 65534) }.into()
        }),
    );
    report.call(
        "fs.write-inmate",
        "open the precompiled inmate /inmate.cwasm for writing",
        io(std::fs::OpenOptions::new()
            .write(true)
            .open("/inmate.cwasm")
            .map(|_| 0)),
    );
    report.call(
        "fs.mknod",
        "create a block device node for the host's first disk (8:0) in /dev",
        libc_call(|| {
            let path = cstr("/dev/probe-sda");
            // SAFETY: a valid path; makedev has no preconditions.
            unsafe { libc::mknod(path.as_ptr(), libc::S_IFBLK | 0o666, libc::makedev(8, 0)) }.into()
        }),
    );
    for (id, what, path, text) in [
        (
            "proc.lower-oom-score",
            "make itself the OOM killer's last choice (-1000 in /proc/self/oom_score_adj)",
            "/proc/self/oom_score_adj",
            "-1000",
        ),
        (
            "proc.uid-map",
            "map itself to root in /proc/self/uid_map",
            "/proc/self/uid_map",
            "0 0 1",
        ),
        (
            "proc.sysrq",
            "trigger a kernel SysRq (h: help, harmless) through /proc/sysrq-trigger",
            "/proc/sysrq-trigger",
            "h",
        ),
        (
            "proc.core-pattern",
            "open /proc/sys/kernel/core_pattern for writing (a classic escape: a host-side core handler)",
            "/proc/sys/kernel/core_pattern",
            "",
        ),
    ] {
        let result = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        report.call(id, what, io(result.map(|_| 0)));
    }
    // The kernel lets a process set an unset audit login uid once; what matters is that
    // it cannot be changed again and that it is only a label (nothing else gets easier).
    let set_loginuid = |uid: &str| {
        let result = std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/self/loginuid")
            .and_then(|mut f| f.write_all(uid.as_bytes()));
        io(result.map(|_| 0))
    };
    report.call(
        "proc.loginuid",
        "set its audit login uid to 0 (root) in /proc/self/loginuid",
        set_loginuid("0"),
    );
    report.call(
        "proc.loginuid-again",
        "then change its audit login uid again, to 1",
        set_loginuid("1"),
    );
    report.found(
        "fs.docker-socket",
        "look for a Docker socket",
        [
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/docker.sock",
            "/var/run/containerd/containerd.sock",
            "/run/containerd/containerd.sock",
        ]
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(String::from),
    );
}

/// Tries to write everywhere: to create a file in every directory and to open every other
/// entry for writing (without writing), skipping only processes' own `/proc/<pid>`
/// folders, whose writable files change nothing but that process. Symlinks are not
/// followed. Reports what was writable, with the device number of device nodes.
fn walk(report: &mut Report) {
    let mut stack = vec![PathBuf::from("/")];
    let (mut dirs, mut others) = (0u64, 0u64);
    let mut writable = Vec::new();
    let stamp = format!(".probe-{}", std::process::id());
    while let Some(dir) = stack.pop() {
        if dirs + others > 500_000 {
            writable.push("(walk stopped after 500000 entries)".to_string());
            break;
        }
        dirs += 1;
        let attempt = dir.join(&stamp);
        if std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&attempt)
            .is_ok()
        {
            let _ = std::fs::remove_file(&attempt);
            writable.push(format!(
                "{} (directory: created a file in it)",
                dir.display()
            ));
        }
        // Read the whole directory before descending: the nofile limit is small.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        for path in entries {
            if skip_in_walk(&path) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            others += 1;
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(&path);
            if opened.is_ok() {
                let what = if kind.is_char_device() {
                    let rdev = meta.rdev();
                    format!("char device {}:{}", libc::major(rdev), libc::minor(rdev))
                } else if kind.is_block_device() {
                    "block device".to_string()
                } else if kind.is_fifo() {
                    "fifo".to_string()
                } else {
                    "file".to_string()
                };
                writable.push(format!("{} ({what})", path.display()));
            }
        }
    }
    report.observed(
        "fs.walk",
        "create a file in every directory and open every other entry for writing",
        json!({ "directories": dirs, "entries": others, "writable": writable }),
    );
}

/// `/proc/<pid>`, `/proc/self` and `/proc/thread-self`: a process's own files.
fn skip_in_walk(path: &Path) -> bool {
    let Ok(rest) = path.strip_prefix("/proc") else {
        return false;
    };
    let mut parts = rest.components();
    let Some(first) = parts.next() else {
        return false;
    };
    let first = first.as_os_str().to_string_lossy();
    parts.next().is_none()
        && (first == "self" || first == "thread-self" || first.bytes().all(|b| b.is_ascii_digit()))
}

// ---- the network ------------------------------------------------------------------------

fn network(report: &mut Report) {
    report.found(
        "net.sysfs",
        "list network interfaces in /sys/class/net",
        std::fs::read_dir("/sys/class/net")
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<BTreeSet<_>>()
            })
            .unwrap_or_default(),
    );
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    report.found(
        "net.procfs",
        "list network interfaces in /proc/net/dev",
        dev.lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect::<Vec<_>>(),
    );
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let mut names = Vec::new();
    if fd >= 0 {
        for index in 1..=4096 {
            let mut request = IfReq {
                name: [0; 16],
                index,
                _rest: [0; 20],
            };
            // SAFETY: SIOCGIFNAME reads the index and writes the name into a struct ifreq,
            // which IfReq lays out (40 bytes).
            let ok = unsafe { libc::ioctl(fd, libc::SIOCGIFNAME as _, &mut request) } == 0;
            if ok {
                let end = request.name.iter().position(|&b| b == 0).unwrap_or(16);
                names.push(format!(
                    "{index}:{}",
                    String::from_utf8_lossy(&request.name[..end])
                ));
            }
        }
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
    } else {
        names.push(format!("(no socket: {})", errno_name(errno())));
    }
    report.found(
        "net.ioctl",
        "ask the kernel for the name of every interface index 1..4096 (ioctl SIOCGIFNAME)",
        names,
    );
    let mut listed = Vec::new();
    // SAFETY: if_nameindex returns a list ending in a zero entry, freed below.
    unsafe {
        let list = libc::if_nameindex();
        if !list.is_null() {
            let mut entry = list;
            while (*entry).if_index != 0 {
                let name = std::ffi::CStr::from_ptr((*entry).if_name);
                listed.push(name.to_string_lossy().into_owned());
                entry = entry.add(1);
            }
            libc::if_freenameindex(list);
        }
    }
    report.found(
        "net.netlink",
        "list interfaces over netlink (if_nameindex)",
        listed,
    );
    let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    report.found(
        "net.routes",
        "list IPv4 routes in /proc/net/route",
        route.lines().skip(1).map(String::from).collect::<Vec<_>>(),
    );
    report.call(
        "net.route-out",
        "find a route to 192.0.2.1 (connect() on a UDP socket: a route lookup, nothing sent)",
        libc_call(|| {
            // SAFETY: a socket and a sockaddr_in built here; the socket is closed after.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                if fd < 0 {
                    return -1;
                }
                let mut addr: libc::sockaddr_in = std::mem::zeroed();
                addr.sin_family = libc::AF_INET as libc::sa_family_t;
                addr.sin_port = 9u16.to_be();
                addr.sin_addr.s_addr = u32::from_be_bytes([192, 0, 2, 1]).to_be();
                let ret = libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                );
                let saved = errno();
                libc::close(fd);
                set_errno(saved);
                ret as i64
            }
        }),
    );
    for (id, what, domain, kind, protocol) in [
        (
            "net.packet-socket",
            "open a packet socket (AF_PACKET, SOCK_RAW, ETH_P_ALL)",
            libc::AF_PACKET,
            libc::SOCK_RAW,
            (libc::ETH_P_ALL as u16).to_be() as i32,
        ),
        (
            "net.raw-socket",
            "open a raw IP socket (AF_INET, SOCK_RAW, IPPROTO_RAW)",
            libc::AF_INET,
            libc::SOCK_RAW,
            libc::IPPROTO_RAW,
        ),
        (
            "net.raw-icmp-socket",
            "open a raw ICMP socket (AF_INET, SOCK_RAW, IPPROTO_ICMP)",
            libc::AF_INET,
            libc::SOCK_RAW,
            libc::IPPROTO_ICMP,
        ),
    ] {
        report.call(
            id,
            what,
            libc_call(|| {
                // SAFETY: socket creation; closed at once if it succeeds.
                let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) };
                if fd >= 0 {
                    // SAFETY: our own descriptor.
                    unsafe { libc::close(fd) };
                }
                fd.into()
            }),
        );
    }
}

/// `struct ifreq` with the interface index member of its union.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    index: libc::c_int,
    _rest: [u8; 20],
}

// ---- privileges -------------------------------------------------------------------------

fn privileges(report: &mut Report) {
    let syscall = |n: libc::c_long, args: [libc::c_long; 5]| {
        libc_call(|| {
            // SAFETY: every call below passes valid pointers or none; none succeeds without
            // privileges this process must not have, and each is harmless if it does.
            unsafe { libc::syscall(n, args[0], args[1], args[2], args[3], args[4]) }
        })
    };
    report.call(
        "priv.setuid",
        "setuid(0)",
        syscall(libc::SYS_setuid, [0; 5]),
    );
    report.call(
        "priv.setgid",
        "setgid(0)",
        syscall(libc::SYS_setgid, [0; 5]),
    );
    report.call(
        "priv.setresuid",
        "setresuid(0, 0, 0)",
        syscall(libc::SYS_setresuid, [0; 5]),
    );
    let root: [libc::gid_t; 1] = [0];
    report.call(
        "priv.setgroups",
        "setgroups([0])",
        syscall(libc::SYS_setgroups, [1, root.as_ptr() as _, 0, 0, 0]),
    );
    // Ask for every capability: version 3 header, two 32-bit halves all ones.
    let header = [0x2008_0522u32, 0];
    let data = [u32::MAX; 6];
    report.call(
        "priv.capset",
        "capset: raise every capability",
        syscall(
            libc::SYS_capset,
            [header.as_ptr() as _, data.as_ptr() as _, 0, 0, 0],
        ),
    );
    let tmpfs = cstr("tmpfs");
    let target = cstr("/");
    report.call(
        "priv.mount",
        "mount a tmpfs over /",
        syscall(
            libc::SYS_mount,
            [
                tmpfs.as_ptr() as _,
                target.as_ptr() as _,
                tmpfs.as_ptr() as _,
                0,
                0,
            ],
        ),
    );
    report.call(
        "priv.remount-rw",
        "remount / read-write",
        syscall(
            libc::SYS_mount,
            [
                0,
                target.as_ptr() as _,
                0,
                (libc::MS_REMOUNT | libc::MS_BIND) as _,
                0,
            ],
        ),
    );
    let kcore = cstr("/proc/kcore");
    report.call(
        "priv.umount-mask",
        "unmount what Docker masks /proc/kcore with",
        syscall(
            libc::SYS_umount2,
            [kcore.as_ptr() as _, libc::MNT_DETACH as _, 0, 0, 0],
        ),
    );
    report.call(
        "priv.chroot",
        "chroot(\"/\")",
        syscall(libc::SYS_chroot, [target.as_ptr() as _, 0, 0, 0, 0]),
    );
    report.call(
        "priv.pivot-root",
        "pivot_root(\"/\", \"/\")",
        syscall(
            libc::SYS_pivot_root,
            [target.as_ptr() as _, target.as_ptr() as _, 0, 0, 0],
        ),
    );
    for (id, what, flags) in [
        (
            "priv.unshare-user",
            "unshare a user namespace (to become root in it)",
            libc::CLONE_NEWUSER,
        ),
        (
            "priv.unshare-mount",
            "unshare a mount namespace",
            libc::CLONE_NEWNS,
        ),
        (
            "priv.unshare-net",
            "unshare a network namespace",
            libc::CLONE_NEWNET,
        ),
        (
            "priv.unshare-pid",
            "unshare a pid namespace",
            libc::CLONE_NEWPID,
        ),
    ] {
        report.call(
            id,
            what,
            syscall(libc::SYS_unshare, [flags as _, 0, 0, 0, 0]),
        );
    }
    report.call(
        "priv.clone-user",
        "clone a child into a new user namespace",
        libc_call(|| {
            // SAFETY: a fork-like clone (no new stack); the child exits at once.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_long,
                    0,
                    0,
                    0,
                    0,
                )
            };
            if pid == 0 {
                // SAFETY: the child leaves without running anything.
                unsafe { libc::_exit(0) };
            }
            if pid > 0 {
                // SAFETY: reaping our own child.
                unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
            }
            pid
        }),
    );
    report.call(
        "priv.setns",
        "setns into its own network namespace (/proc/self/ns/net)",
        libc_call(|| {
            let path = cstr("/proc/self/ns/net");
            // SAFETY: a valid path; the descriptor is closed after.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return -1;
                }
                let ret = libc::setns(fd, libc::CLONE_NEWNET);
                let saved = errno();
                libc::close(fd);
                set_errno(saved);
                ret.into()
            }
        }),
    );
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default();
    report.found(
        "priv.processes",
        "list the processes it can see (/proc)",
        pids.clone(),
    );
    let me = std::process::id() as libc::c_long;
    let other = pids
        .iter()
        .filter_map(|p| p.parse::<libc::c_long>().ok())
        .find(|&p| p != me);
    report.call(
        "priv.ptrace",
        &match other {
            Some(p) => format!("ptrace(PTRACE_ATTACH) process {p}"),
            None => format!(
                "ptrace(PTRACE_ATTACH) process {me}, itself: no other process is visible to attach to"
            ),
        },
        syscall(
            libc::SYS_ptrace,
            [libc::PTRACE_ATTACH as _, other.unwrap_or(me), 0, 0, 0],
        ),
    );
    let me_path = cstr("/proc/self/exe");
    report.call(
        "priv.finit-module",
        "load a kernel module (finit_module)",
        libc_call(|| {
            // SAFETY: a valid path; the descriptor is closed after.
            unsafe {
                let fd = libc::open(me_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return -1;
                }
                let empty = cstr("");
                let ret = libc::syscall(libc::SYS_finit_module, fd, empty.as_ptr(), 0);
                let saved = errno();
                libc::close(fd);
                set_errno(saved);
                ret
            }
        }),
    );
    let empty = cstr("");
    let image = [0u8; 64];
    report.call(
        "priv.init-module",
        "load a kernel module (init_module)",
        syscall(
            libc::SYS_init_module,
            [
                image.as_ptr() as _,
                image.len() as _,
                empty.as_ptr() as _,
                0,
                0,
            ],
        ),
    );
    let module = cstr("probe_nonexistent_module");
    report.call(
        "priv.delete-module",
        "unload a kernel module (delete_module)",
        syscall(
            libc::SYS_delete_module,
            [module.as_ptr() as _, libc::O_NONBLOCK as _, 0, 0, 0],
        ),
    );
    report.call(
        "priv.iopl",
        "iopl(3)",
        syscall(libc::SYS_iopl, [3, 0, 0, 0, 0]),
    );
    report.call(
        "priv.ioperm",
        "ioperm(0x80, 1, on)",
        syscall(libc::SYS_ioperm, [0x80, 1, 1, 0, 0]),
    );
    // A zeroed bpf_attr: with the privilege it would be EINVAL, without it EPERM.
    let attr = [0u8; 128];
    report.call(
        "priv.bpf",
        "bpf(BPF_MAP_CREATE)",
        syscall(
            libc::SYS_bpf,
            [0, attr.as_ptr() as _, attr.len() as _, 0, 0],
        ),
    );
    // open_by_handle_at is the "shocker" escape: a handle to the host's root inode.
    let handle = [8u32, 1, 2, 0];
    report.call(
        "priv.open-by-handle",
        "open_by_handle_at (the \"shocker\" container escape)",
        libc_call(|| {
            let root = cstr("/");
            // SAFETY: a valid path and a handle buffer of 16 bytes; closed after.
            unsafe {
                let fd = libc::open(root.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return -1;
                }
                let ret = libc::syscall(
                    libc::SYS_open_by_handle_at,
                    fd,
                    handle.as_ptr(),
                    libc::O_RDONLY,
                );
                let saved = errno();
                if ret >= 0 {
                    libc::close(ret as libc::c_int);
                }
                libc::close(fd);
                set_errno(saved);
                ret
            }
        }),
    );
    report.call(
        "priv.keyctl",
        "keyctl: read the session keyring",
        syscall(
            libc::SYS_keyctl,
            [
                0,  /* KEYCTL_GET_KEYRING_ID */
                -3, /* session */
                0, 0, 0,
            ],
        ),
    );
    let name = cstr("probe");
    report.call(
        "priv.sethostname",
        "sethostname(\"probe\")",
        syscall(libc::SYS_sethostname, [name.as_ptr() as _, 5, 0, 0, 0]),
    );
    report.call(
        "priv.swapon",
        "swapon its own binary",
        syscall(libc::SYS_swapon, [me_path.as_ptr() as _, 0, 0, 0, 0]),
    );
    report.call(
        "priv.set-clock",
        "set the system clock (to the time it already shows)",
        libc_call(|| {
            let mut now: libc::timespec = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: valid timespec pointers.
            unsafe {
                libc::clock_gettime(libc::CLOCK_REALTIME, &mut now);
                libc::syscall(libc::SYS_clock_settime, libc::CLOCK_REALTIME, &now)
            }
        }),
    );
    report.call(
        "priv.raise-core-limit",
        "raise its core dump limit (RLIMIT_CORE) to unlimited",
        libc_call(|| {
            let limit = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            // SAFETY: a valid rlimit.
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) }.into()
        }),
    );
    report.call(
        "priv.raise-nofile-limit",
        "raise its open-file limit (RLIMIT_NOFILE) past the jail's",
        libc_call(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            // SAFETY: a valid rlimit.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }.into()
        }),
    );
    let mut devices = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/dev") {
        for entry in dir.filter_map(Result::ok) {
            if let Ok(meta) = std::fs::symlink_metadata(entry.path()) {
                let kind = meta.file_type();
                if kind.is_block_device() || kind.is_char_device() {
                    let rdev = meta.rdev();
                    devices.push(format!(
                        "{} ({} {}:{})",
                        entry.path().display(),
                        if kind.is_block_device() {
                            "block"
                        } else {
                            "char"
                        },
                        libc::major(rdev),
                        libc::minor(rdev)
                    ));
                }
            }
        }
    }
    devices.sort();
    report.found("priv.devices", "list the device nodes in /dev", devices);
}

// ---- other binaries ---------------------------------------------------------------------

fn binaries(report: &mut Report) {
    // Every regular file outside /proc and /sys: executable by mode, or an ELF or script by
    // its first bytes whatever its mode.
    let mut stack = vec![PathBuf::from("/")];
    let mut found = Vec::new();
    let mut candidates = Vec::new();
    let mut files = 0u64;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        for path in entries {
            if path == Path::new("/proc") || path == Path::new("/sys") {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                files += 1;
                let mut head = [0u8; 4];
                let read = std::fs::File::open(&path)
                    .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                    .unwrap_or(0);
                let elf = read == 4 && head == *b"\x7fELF";
                let script = read >= 2 && head.starts_with(b"#!");
                if meta.mode() & 0o111 != 0 || elf || script {
                    found.push(format!(
                        "{} (mode {:o}, {} bytes{}{})",
                        path.display(),
                        meta.mode() & 0o7777,
                        meta.len(),
                        if elf { ", ELF" } else { "" },
                        if script { ", script" } else { "" }
                    ));
                    candidates.push(path);
                }
            }
        }
    }
    found.sort();
    let me = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    for candidate in &candidates {
        if *candidate != me {
            let path = candidate.to_string_lossy();
            report.call(
                &format!("bin.exec:{path}"),
                &format!("run {path}, found by the walk (fork, then execve in the child)"),
                exec_in_child(&path),
            );
        }
    }
    report.observed(
        "bin.walk",
        "find any program other than itself (every regular file outside /proc and /sys)",
        json!({ "files": files, "programs": found }),
    );
    for shell in ["/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/env"] {
        report.call(
            &format!("bin.exec:{shell}"),
            &format!("run {shell} (fork, then execve in the child)"),
            exec_in_child(shell),
        );
    }
}

/// Forks; the child execs `path` and, if that fails, exits with the errno.
fn exec_in_child(path: &str) -> Result<i64, i32> {
    let program = cstr(path);
    let dash_c = cstr("-c");
    let script = cstr("exit 0");
    let argv = [
        program.as_ptr(),
        dash_c.as_ptr(),
        script.as_ptr(),
        std::ptr::null(),
    ];
    let envp = [std::ptr::null()];
    // SAFETY: the child only calls execve and _exit, both async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(errno());
    }
    if pid == 0 {
        // SAFETY: NUL-terminated arrays of valid C strings.
        unsafe {
            libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(128 + errno().min(127));
        }
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let code = libc::WEXITSTATUS(status);
    if libc::WIFEXITED(status) && code > 128 {
        Err(code - 128)
    } else {
        Ok(i64::from(status))
    }
}

// ---- descriptors, processes, threads ---------------------------------------------------

fn descriptors(report: &mut Report) {
    let mut files = Vec::new();
    let error = loop {
        match std::fs::File::open("/proc/self/status") {
            Ok(f) if files.len() < 100_000 => files.push(f),
            Ok(_) => break 0,
            Err(e) => break e.raw_os_error().unwrap_or(0),
        }
    };
    report.observed(
        "limits.nofile",
        "open files until refused",
        json!({ "opened": files.len(), "errno": errno_name(error) }),
    );
}

fn processes(report: &mut Report) {
    let mut children = Vec::new();
    let error = loop {
        if children.len() >= 4096 {
            break 0;
        }
        // SAFETY: the child only waits for its signal.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: async-signal-safe; the parent kills the child.
                unsafe { libc::pause() };
            },
            pid if pid > 0 => children.push(pid),
            _ => break errno(),
        }
    };
    let forked = children.len();
    for pid in children {
        // SAFETY: our own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    report.observed(
        "pids.fork",
        "fork processes until refused",
        json!({ "forked": forked, "errno": errno_name(error) }),
    );
}

fn threads(report: &mut Report) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let error = loop {
        if handles.len() >= 4096 {
            break 0;
        }
        let stop = stop.clone();
        // Small stacks, so that the pids limit is what stops it, not memory.
        let spawned = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    std::thread::park();
                }
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => break e.raw_os_error().unwrap_or(0),
        }
    };
    let spawned = handles.len();
    stop.store(true, Ordering::Release);
    for handle in handles {
        handle.thread().unpark();
        let _ = handle.join();
    }
    report.observed(
        "pids.threads",
        "spawn threads until refused",
        json!({ "spawned": spawned, "errno": errno_name(error) }),
    );
}

// ---- memory -----------------------------------------------------------------------------

/// Allocates and touches 16 MiB at a time, saying how far it got, up to 4 GiB.
fn memory() {
    const CHUNK: usize = 16 << 20;
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut out = std::io::stdout().lock();
    for n in 1..=256 {
        let mut chunk = vec![0u8; CHUNK];
        // Touch every page: untouched pages cost nothing and prove nothing.
        for page in chunk.chunks_mut(4096) {
            page[0] = 1;
        }
        held.push(chunk);
        let _ = writeln!(out, "{}", json!({ "allocated_mib": n * 16 }));
        let _ = out.flush();
    }
    let _ = writeln!(out, "{}", json!({ "done": true }));
}

// ---- helpers ----------------------------------------------------------------------------

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL inside")
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(value: i32) {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = value };
}

/// Runs a libc-style call: a negative return means failure with errno.
fn libc_call(f: impl FnOnce() -> i64) -> Result<i64, i32> {
    set_errno(0);
    let ret = f();
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn io(result: std::io::Result<i64>) -> Result<i64, i32> {
    result.map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// The symbolic name of an errno, which the test matches on.
fn errno_name(errno: i32) -> &'static str {
    match errno {
        0 => "none",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ESTALE => "ESTALE",
        libc::ENOEXEC => "ENOEXEC",
        libc::EISDIR => "EISDIR",
        libc::ENOTTY => "ENOTTY",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        _ => "other",
    }
}
