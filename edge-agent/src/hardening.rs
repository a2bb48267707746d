//! Process hardening at start-up: the agent is not dumpable, and whether it can give runtime processes
//! identities of their own is known before it serves (issue 9).
//!
//! - [`disable_dumping`] (`prctl(PR_SET_DUMPABLE, 0)`): no process of the agent's uid can ptrace the agent or
//!   read `/proc/<agent>/environ`, `/proc/<agent>/mem`, its file descriptors or its core dump; `/proc/<agent>/*`
//!   becomes owned by root. Runtime processes exec a new program, so the setting does not pass on to them.
//! - [`isolation_capability`] reads what the mechanism of the runtime pool needs to switch a runtime process to
//!   a uid of its own: euid 0 with `CAP_SETUID`, `CAP_SETGID`, `CAP_CHOWN` and `CAP_KILL` effective.
//! - [`check_isolation`] turns that into the start decision: isolated, or shared uid only when
//!   `pool.allow_shared_uid` accepts it (the single-tenant laptop case), otherwise a refusal naming the setting.

use crate::config::Settings;

/// Bit of `CAP_CHOWN` in `/proc/self/status` `CapEff`.
pub const CAP_CHOWN: u32 = 0;
/// Bit of `CAP_KILL` in `/proc/self/status` `CapEff`.
pub const CAP_KILL: u32 = 5;
/// Bit of `CAP_SETGID` in `/proc/self/status` `CapEff`.
pub const CAP_SETGID: u32 = 6;
/// Bit of `CAP_SETUID` in `/proc/self/status` `CapEff`.
pub const CAP_SETUID: u32 = 7;

/// The environment variable that accepts a shared uid, quoted in the refusal.
pub const ALLOW_SHARED_UID_ENV: &str = "FOGWHISK_EDGE_POOL__ALLOW_SHARED_UID=true";

/// Makes the agent non-dumpable. Errors only if the kernel refuses (it never does on Linux for value 0).
pub fn disable_dumping() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_DUMPABLE takes one integer argument and touches no memory of ours.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether the agent is dumpable now (`prctl(PR_GET_DUMPABLE)`).
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no pointer.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE) == 1 }
}

/// Why the agent can (or cannot) switch runtime processes to other uids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Effective uid 0.
    Root,
    /// uid 0 with a reduced set that still has what the pool needs (the Helm chart's container).
    SetUidCapabilities,
    /// Neither: runtime processes can only run under the agent's own uid.
    None,
}

/// How runtime processes will run, decided once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationMode {
    /// Each runtime process under a uid of its own, neither the agent's nor another namespace's.
    Isolated(Capability),
    /// Runtime processes share the agent's uid, accepted by `pool.allow_shared_uid`.
    SharedUid,
}

impl IsolationMode {
    /// True when runtime processes get their own uid.
    pub fn is_isolated(self) -> bool {
        matches!(self, IsolationMode::Isolated(_))
    }
}

/// Parses the `CapEff:` hex mask out of a `/proc/<pid>/status` text.
pub fn effective_caps(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

/// Decides from an effective uid and a `CapEff` mask (pure, for tests). The same rule as the runtime pool's
/// own (`fogwhisk_runtime::process::identity::can_isolate`): euid 0 with CAP_SETUID, CAP_SETGID, CAP_CHOWN and
/// CAP_KILL effective, since the pool switches per thread to a runtime uid and back through the saved uid 0.
pub fn capability_from(euid: u32, cap_eff: Option<u64>) -> Capability {
    let needed = (1u64 << CAP_SETUID) | (1u64 << CAP_SETGID) | (1u64 << CAP_CHOWN) | (1u64 << CAP_KILL);
    match cap_eff {
        Some(m) if euid == 0 && m & needed == needed => {
            if m == (1u64 << 41) - 1 || m.count_ones() > 30 {
                Capability::Root
            } else {
                Capability::SetUidCapabilities
            }
        }
        _ => Capability::None,
    }
}

/// What this process can do (from `/proc/self/status`), by [`capability_from`]'s rule.
pub fn isolation_capability() -> Capability {
    // SAFETY: geteuid has no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let caps = std::fs::read_to_string("/proc/self/status").ok().as_deref().and_then(effective_caps);
    capability_from(euid, caps)
}

/// The refusal when the agent cannot isolate and the setting does not accept it.
pub fn refusal_message() -> String {
    format!(
        "cannot isolate action code: runtime processes would run under the agent's own uid (not uid 0 with \
         CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_KILL), so one namespace's actions could read the agent's \
         secrets and reach other namespaces' processes. Run as root, or as uid 0 with at least those \
         capabilities (the Helm chart does), or accept a shared uid for a single-tenant machine with \
         pool.allow_shared_uid = true ({ALLOW_SHARED_UID_ENV})"
    )
}

/// The one start-up line describing `mode`.
pub fn describe(mode: IsolationMode) -> &'static str {
    match mode {
        IsolationMode::Isolated(Capability::Root) => {
            "action isolation: on (running as root: each runtime process gets a uid of its own)"
        }
        IsolationMode::Isolated(_) => {
            "action isolation: on (uid 0 with SETUID, SETGID, CHOWN, KILL: each runtime process gets a uid of its own)"
        }
        IsolationMode::SharedUid => {
            "action isolation: OFF, runtime processes share the agent's uid (pool.allow_shared_uid = true): \
             actions can read the agent's secrets; single-tenant use only"
        }
    }
}

/// The start decision for `settings` on this process: isolated when possible, shared uid when
/// `pool.allow_shared_uid` accepts it, otherwise an error naming the setting.
pub fn check_isolation(settings: &Settings) -> anyhow::Result<IsolationMode> {
    decide(isolation_capability(), settings.pool.allow_shared_uid)
}

/// [`check_isolation`] from given facts (pure, for tests).
pub fn decide(cap: Capability, allow_shared_uid: bool) -> anyhow::Result<IsolationMode> {
    match (cap, allow_shared_uid) {
        (Capability::None, true) => Ok(IsolationMode::SharedUid),
        (Capability::None, false) => Err(anyhow::anyhow!(refusal_message())),
        (c, _) => Ok(IsolationMode::Isolated(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_from_status() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t00000000000000c0\n";
        assert_eq!(effective_caps(status), Some(0xc0));
        assert_eq!(capability_from(1000, Some(0xc0)), Capability::None, "not uid 0");
        assert_eq!(capability_from(0, Some(0xc0)), Capability::None, "CAP_CHOWN and CAP_KILL missing");
        assert_eq!(capability_from(0, Some(0x80)), Capability::None, "CAP_SETUID alone is not enough");
        assert_eq!(capability_from(1000, None), Capability::None);
        assert_eq!(capability_from(0, Some(0)), Capability::None, "root without capabilities");
        assert_eq!(capability_from(0, Some(0x1ff_ffff_ffff)), Capability::Root);
        // The chart's set: CHOWN(0) FOWNER(3) KILL(5) SETGID(6) SETUID(7).
        assert_eq!(capability_from(0, Some(0xe9)), Capability::SetUidCapabilities);
        assert_eq!(capability_from(10001, Some(0xe9)), Capability::None, "the pool switches back through uid 0");
    }

    #[test]
    fn refusal_names_the_setting() {
        let e = decide(Capability::None, false).unwrap_err().to_string();
        assert!(e.contains("pool.allow_shared_uid") && e.contains(ALLOW_SHARED_UID_ENV), "{e}");
        assert_eq!(decide(Capability::None, true).unwrap(), IsolationMode::SharedUid);
        assert!(decide(Capability::Root, false).unwrap().is_isolated());
        assert!(decide(Capability::SetUidCapabilities, true).unwrap().is_isolated());
    }

    #[test]
    fn not_dumpable_after_disable() {
        disable_dumping().unwrap();
        assert!(!is_dumpable());
    }
}
