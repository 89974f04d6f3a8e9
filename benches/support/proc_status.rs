//! Memory figures of a process from Linux's /proc/<pid>/status.

/// A field (`VmHWM:`, `VmRSS:`) of /proc/`pid`/status (`"self"` for this process), in KiB;
/// 0 where there is no such file.
pub fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
