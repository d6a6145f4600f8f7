//! Ctrl-C, SIGTERM and SIGHUP: stop labctl's children, then let the running command
//! unwind through its normal error path (which removes what a first `up`
//! created) and exit non-zero naming the phase it was in.
//!
//! Children run in process groups of their own (so a terminal's Ctrl-C reaches
//! labctl alone); the handler forwards the signal to those groups. Only
//! async-signal-safe work happens in the handler: atomics and `killpg`.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
const SLOTS: usize = 32;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static PHASE: Mutex<String> = Mutex::new(String::new());

extern "C" fn on_signal(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    for g in GROUPS.iter() {
        let pg = g.load(Ordering::SeqCst);
        if pg > 0 {
            unsafe {
                nix::libc::killpg(pg, nix::libc::SIGTERM);
            }
        }
    }
}

/// SIGHUP: whoever read labctl's output is gone (a closed terminal, or the
/// `labctl test --jobs` parent that died: it asks the kernel for this signal
/// then). Output goes to /dev/null from here on, since a write into the
/// closed pipe would fail and stop the unwinding half way; then as SIGTERM.
/// open and dup2 are async-signal-safe.
extern "C" fn on_hangup(sig: nix::libc::c_int) {
    unsafe {
        // The interrupted code may be about to read errno.
        let errno = *nix::libc::__errno_location();
        let null = nix::libc::open(c"/dev/null".as_ptr(), nix::libc::O_WRONLY);
        if null >= 0 {
            nix::libc::dup2(null, 1);
            nix::libc::dup2(null, 2);
            nix::libc::close(null);
        }
        *nix::libc::__errno_location() = errno;
    }
    on_signal(sig);
}

/// Install the handlers for SIGINT, SIGTERM and SIGHUP (once, at startup).
pub fn install() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let hangup = SigAction::new(
        SigHandler::Handler(on_hangup),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    unsafe {
        let _ = sigaction(Signal::SIGINT, &act);
        let _ = sigaction(Signal::SIGTERM, &act);
        let _ = sigaction(Signal::SIGHUP, &hangup);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

thread_local! {
    static SHIELDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` on this thread as if no signal had arrived: cleanup that must
/// reach a node after Ctrl-C (a check's `undo`) is not cut short by it.
pub fn shielded<R>(f: impl FnOnce() -> R) -> R {
    let was = SHIELDED.with(|s| s.replace(true));
    let r = f();
    SHIELDED.with(|s| s.set(was));
    r
}

/// Whether work on this thread should stop for a signal (never inside
/// [`shielded`]).
pub fn stops_here() -> bool {
    interrupted() && !SHIELDED.with(|s| s.get())
}

/// Remember a child's process group so a signal reaches it.
pub fn track(pgid: i32) {
    for g in GROUPS.iter() {
        if g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

pub fn untrack(pgid: i32) {
    for g in GROUPS.iter() {
        let _ = g.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

pub fn set_phase(p: &str) {
    *PHASE.lock().unwrap_or_else(|e| e.into_inner()) = p.to_string();
}

pub fn phase() -> String {
    PHASE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Err(Interrupted) if a signal arrived; call between steps.
pub fn check() -> crate::Result<()> {
    if interrupted() {
        Err(crate::Error::Interrupted { phase: phase() })
    } else {
        Ok(())
    }
}
