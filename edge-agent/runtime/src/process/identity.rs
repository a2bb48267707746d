//! Runtime identities: a distinct uid/gid per runtime process, taken from a range locked host-wide, and the
//! per-thread credential switch that kills and cleans up whatever such an identity left behind.
//!
//! Every runtime process gets a uid (and a gid of the same number) that no other live runtime process of
//! any agent on the host has: the uid is claimed by an exclusive `flock` on `<lock_dir>/<uid>`, held as long
//! as the process's [`RuntimeUser`] lives. Because the uid is the process's alone, "everything the action
//! started" is exactly "every process of that uid": the watchdog sums their memory, `RLIMIT_NPROC` bounds
//! them, and [`reap`] ends all of them with one `kill(-1)` issued under that uid, which a fork bomb cannot
//! outrun (the kernel walks the task list under its lock).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::RuntimeError;

/// How runtime processes are separated from the agent and from each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// One uid per process from `[uid_base, uid_base + uid_count)`; needs euid 0 with CAP_SETUID,
    /// CAP_SETGID, CAP_CHOWN and CAP_KILL (the edge chart grants exactly these, nothing else).
    Separate { uid_base: u32, uid_count: u32, lock_dir: PathBuf },
    /// Runtime processes run as the agent's own user: no isolation (single-tenant laptop use only).
    Shared,
}

/// First uid of the default range: far above the uids of people and of user-namespace sub-id ranges.
pub const DEFAULT_UID_BASE: u32 = 1_610_000_000;
/// Size of the default range (processes alive at once, over all agents of the host).
pub const DEFAULT_UID_COUNT: u32 = 65_536;

const CAP_CHOWN: u32 = 0;
const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// True when this process can give runtime processes identities of their own.
pub fn can_isolate() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    [CAP_CHOWN, CAP_KILL, CAP_SETGID, CAP_SETUID].iter().all(|c| eff & (1 << c) != 0)
}

impl Isolation {
    /// `Separate` with the default range when this process can isolate, `Shared` otherwise.
    pub fn detect() -> Self {
        if can_isolate() {
            Isolation::Separate {
                uid_base: DEFAULT_UID_BASE,
                uid_count: DEFAULT_UID_COUNT,
                lock_dir: std::env::temp_dir().join("fogwhisk-uids"),
            }
        } else {
            Isolation::Shared
        }
    }
}

/// The identity of one runtime process; dropping it releases the uid for reuse.
#[derive(Debug)]
pub struct RuntimeUser {
    pub uid: u32,
    _lock: File,
}

static CURSOR: AtomicU32 = AtomicU32::new(0);

/// Prepares the lock folder: owned by the agent, closed to everyone else.
pub(crate) fn prepare_lock_dir(dir: &Path) -> Result<(), RuntimeError> {
    let io = |what: &'static str| move |source| RuntimeError::Io { what, path: dir.to_path_buf(), source };
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("create")(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io("stat"))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me {
        return Err(RuntimeError::UnsafeLockDir(dir.to_path_buf()));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io("chmod"))
}

/// Claims a uid of the range that no live runtime process of any agent on this host holds.
pub(crate) fn claim(uid_base: u32, uid_count: u32, lock_dir: &Path) -> Result<RuntimeUser, RuntimeError> {
    let count = uid_count.max(1);
    for _ in 0..count {
        let offset = CURSOR.fetch_add(1, Ordering::Relaxed) % count;
        let uid = uid_base.saturating_add(offset);
        let path = lock_dir.join(uid.to_string());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| RuntimeError::Io { what: "open", path: path.clone(), source })?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(RuntimeUser { uid, _lock: file });
        }
    }
    Err(RuntimeError::NoFreeUid { base: uid_base, count })
}

fn ids() -> ((u32, u32, u32), (u32, u32, u32)) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    let (mut gr, mut ge, mut gs) = (0, 0, 0);
    // SAFETY: the out-pointers are valid locals.
    unsafe {
        libc::getresuid(&mut r, &mut e, &mut s);
        libc::getresgid(&mut gr, &mut ge, &mut gs);
    }
    ((r, e, s), (gr, ge, gs))
}

/// Runs `work` on the calling thread with its real and effective uid/gid set to `uid` (the saved ids stay the
/// agent's, so it can switch back), then restores them. Raw syscalls: glibc's wrappers would switch every
/// thread of the agent. Call only from a thread that runs nothing else meanwhile (the spawner thread).
pub(crate) fn as_user<T>(uid: u32, work: impl FnOnce() -> T) -> Option<T> {
    let ((r, e, s), (gr, ge, gs)) = ids();
    // SAFETY: per-thread credential syscalls; failures are checked and undone.
    unsafe {
        if libc::syscall(libc::SYS_setresgid, uid, uid, gs) != 0 {
            return None;
        }
        if libc::syscall(libc::SYS_setresuid, uid, uid, s) != 0 {
            libc::syscall(libc::SYS_setresgid, gr, ge, gs);
            return None;
        }
    }
    let out = work();
    // SAFETY: back to the saved ids (the saved uid kept the agent's capabilities).
    unsafe {
        let back_uid = libc::syscall(libc::SYS_setresuid, r, e, s);
        let back_gid = libc::syscall(libc::SYS_setresgid, gr, ge, gs);
        if back_uid != 0 || back_gid != 0 {
            // A thread that cannot return to the agent's identity must not run anything else.
            libc::abort();
        }
    }
    Some(out)
}

/// World-writable folders a runtime process can write to outside its own folder.
pub(crate) const TEMP_DIRS: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

/// Removes what `uid` owns at the top of the temp folders (call it as `uid`: sticky folders let the owner
/// delete, and nothing else of the agent's is reachable).
pub(crate) fn remove_temp_entries(uid: u32) {
    for dir in TEMP_DIRS {
        let Ok(rd) = std::fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.uid() != uid {
                continue;
            }
            let _ = if meta.is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
        }
    }
}

/// Kills every process of `uid` (whatever the action started, detached or not), removes what it left at the top
/// of the temp folders, and empties `dir` (the process folder, owned by `uid`), all as that user. Returns false if
/// the switch to `uid` failed.
pub(crate) fn reap(uid: u32, dir: Option<&Path>) -> bool {
    as_user(uid, || {
        // kill(-1) reaches every process this thread may signal: with no capability left (the kernel clears
        // them when the effective uid leaves 0) that is exactly the processes of `uid`, never the agent's.
        if thread_capabilities() == Some(0) {
            // SAFETY: see above; the capability check makes sure it cannot reach beyond `uid`.
            unsafe { libc::kill(-1, libc::SIGKILL) };
        } else {
            tracing::error!(uid, "capabilities survived the switch to the runtime uid; not signalling");
            return;
        }
        // What the uid left in the temp folders goes too: the uid is handed to another namespace next.
        remove_temp_entries(uid);
        if let Some(dir) = dir {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let p = entry.path();
                    let _ = match entry.file_type() {
                        Ok(t) if t.is_dir() => std::fs::remove_dir_all(&p),
                        _ => std::fs::remove_file(&p),
                    };
                }
            }
        }
    })
    .is_some()
}

/// The effective capabilities of the calling thread.
fn thread_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let v = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(v.trim(), 16).ok()
}

/// Pids of the processes whose effective uid is `uid` (from the owners of `/proc/<pid>`).
pub(crate) fn pids_of(uid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let meta = e.metadata().ok()?;
            (meta.uid() == uid).then_some(pid)
        })
        .collect()
}
