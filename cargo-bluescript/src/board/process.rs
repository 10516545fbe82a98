//! Processes that outlive this one (the emulator of a flashed board): what a
//! pid runs, whether it still runs, and stopping it.
//!
//! A pid read from a file may have been reused by an unrelated process since
//! it was written, so callers check [`info`] before they [`stop`] anything.

use anyhow::{bail, Result};
use std::time::{Duration, Instant};

/// How long a process gets to exit after SIGTERM before it gets SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(3);
const KILL_GRACE: Duration = Duration::from_secs(2);
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// What a process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The file name of the program (`qemu-system-arm`).
    pub program: String,
    /// Its arguments (the program included), joined by spaces.
    pub command_line: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Terminate,
    Kill,
}

/// Stops process `pid`: SIGTERM lets QEMU shut down cleanly; SIGKILL follows
/// if it does not. Succeeds if the process is already gone.
pub fn stop(pid: u32) -> Result<()> {
    for (signal, grace) in [
        (Signal::Terminate, TERMINATE_GRACE),
        (Signal::Kill, KILL_GRACE),
    ] {
        send(pid, signal)?;
        let deadline = Instant::now() + grace;
        while is_running(pid) {
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(EXIT_POLL_INTERVAL);
        }
        if !is_running(pid) {
            return Ok(());
        }
    }
    bail!("process {pid} did not stop, even after SIGKILL")
}

/// Pids 0 and 1, and those that do not fit a `pid_t`, would signal a whole
/// process group, every process, or init: never a process we started.
fn checked_pid(pid: u32) -> Result<i32> {
    match i32::try_from(pid) {
        Ok(pid @ 2..) => Ok(pid),
        _ => bail!("internal error: refusing to signal pid {pid}"),
    }
}

#[cfg(target_os = "linux")]
use linux::send;
#[cfg(target_os = "linux")]
pub use linux::{info, is_running};

#[cfg(target_os = "linux")]
mod linux {
    use super::{checked_pid, ProcessInfo, Signal};
    use anyhow::{Context, Result};
    use std::path::Path;

    pub fn info(pid: u32) -> Option<ProcessInfo> {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        // Empty for zombies and kernel threads: nothing that could be ours.
        let args: Vec<String> = cmdline
            .split(|&byte| byte == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        let program = Path::new(args.first()?)
            .file_name()?
            .to_string_lossy()
            .into_owned();
        Some(ProcessInfo {
            program,
            command_line: args.join(" "),
        })
    }

    /// A zombie (exited, not yet reaped) counts as stopped: a detached
    /// emulator is reaped by init, which in some containers never happens.
    pub fn is_running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| parse_stat_state(&stat).is_some_and(|s| !matches!(s, 'Z' | 'X')))
    }

    /// The state letter of `/proc/<pid>/stat`: `pid (comm) S …`, where
    /// `comm` may itself contain spaces and parentheses.
    pub(super) fn parse_stat_state(stat: &str) -> Option<char> {
        let (_, rest) = stat.rsplit_once(") ")?;
        rest.chars().next()
    }

    pub(super) fn send(pid: u32, signal: Signal) -> Result<()> {
        let number = match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(checked_pid(pid)?, number) } == -1 {
            let error = std::io::Error::last_os_error();
            // Already gone: that is what was asked for.
            if error.raw_os_error() != Some(libc::ESRCH) {
                return Err(error).with_context(|| format!("could not stop process {pid}"));
            }
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
use other::send;
#[cfg(not(target_os = "linux"))]
pub use other::{info, is_running};

/// Without /proc (macOS, the BSDs), `ps` and `kill` answer the same questions.
#[cfg(not(target_os = "linux"))]
mod other {
    use super::{checked_pid, ProcessInfo, Signal};
    use anyhow::{bail, Context, Result};
    use std::path::Path;
    use std::process::Command;

    fn ps(pid: u32, field: &str) -> Option<String> {
        let output = Command::new("ps")
            .args(["-ww", "-o", &format!("{field}="), "-p", &pid.to_string()])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        (output.status.success() && !text.is_empty()).then_some(text)
    }

    pub fn info(pid: u32) -> Option<ProcessInfo> {
        let program = Path::new(&ps(pid, "comm")?)
            .file_name()?
            .to_string_lossy()
            .into_owned();
        Some(ProcessInfo {
            program,
            command_line: ps(pid, "args")?,
        })
    }

    pub fn is_running(pid: u32) -> bool {
        ps(pid, "stat").is_some_and(|state| !state.starts_with('Z'))
    }

    pub(super) fn send(pid: u32, signal: Signal) -> Result<()> {
        let name = match signal {
            Signal::Terminate => "-TERM",
            Signal::Kill => "-KILL",
        };
        let pid = checked_pid(pid)?;
        // Its complaint about a process that is already gone is no news:
        // captured, it only explains a real failure.
        let output = Command::new("kill")
            .arg(name)
            .arg(pid.to_string())
            .output()
            .context("could not run `kill`")?;
        if !output.status.success() && is_running(pid as u32) {
            bail!(
                "could not stop process {pid}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn pids_that_signal_groups_are_refused() {
        for pid in [0, 1, u32::MAX] {
            assert!(checked_pid(pid).is_err(), "{pid}");
        }
        assert_eq!(checked_pid(1234).unwrap(), 1234);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_stat_state_survives_odd_program_names() {
        let state = |stat| linux::parse_stat_state(stat);
        assert_eq!(state("42 (sleep) S 1 42 42 0"), Some('S'));
        assert_eq!(state("42 (a) (b) Z 1 42"), Some('Z'));
        assert_eq!(state("garbage"), None);
    }

    #[test]
    fn stops_a_process_and_sees_it_gone() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(is_running(pid));
        // The new program's arguments appear a moment after `spawn` returns.
        let deadline = Instant::now() + Duration::from_secs(2);
        let info = loop {
            match info(pid) {
                Some(info) => break info,
                None if Instant::now() < deadline => std::thread::sleep(EXIT_POLL_INTERVAL),
                None => panic!("no command line for pid {pid}"),
            }
        };
        assert_eq!(info.program, "sleep");
        assert_eq!(info.command_line, "sleep 30");
        stop(pid).unwrap();
        // Not reaped yet (a zombie), yet no longer running.
        assert!(!is_running(pid));
        child.wait().unwrap();
        // Stopping what is gone is no error.
        stop(pid).unwrap();
    }
}
