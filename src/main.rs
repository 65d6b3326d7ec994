fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    without_thread_caches();
    let code = converge::app::main_with_args(std::env::args().collect());
    std::process::exit(code);
}

/// Where the restarted process finds GLIBC_TUNABLES as the user left it: `unset`, or `set:`
/// and the value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const USER_TUNABLES: &str = "CONVERGE_USER_GLIBC_TUNABLES";

/// No per-thread cache, two arenas (see [`without_thread_caches`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OURS: &str = "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2";

/// glibc keeps, for every thread, a cache of the small blocks it freed (its tcache, up to
/// some 200 KiB) that no other thread reuses. converge serves each host on a thread of its
/// own, so against hundreds of hosts those caches were most of its memory (measured with
/// the benchmark at 500 hosts: 156 MiB peak, 101 MiB without them, for the same time; two
/// arenas instead of sixteen save one more). Both can only be set as the process starts:
/// converge starts itself again, once, with them added to GLIBC_TUNABLES, and puts the
/// variable back as it was, so the commands it runs see the user's environment. A user
/// who sets `tcache_count` keeps their settings; a failed restart runs on as is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn without_thread_caches() {
    use std::os::unix::process::CommandExt;
    // The restarted process: put the variable back before anything reads the environment.
    if let Some(user) = std::env::var_os(USER_TUNABLES) {
        match user.to_str().and_then(|user| user.strip_prefix("set:")) {
            Some(value) => std::env::set_var("GLIBC_TUNABLES", value),
            None => std::env::remove_var("GLIBC_TUNABLES"),
        }
        std::env::remove_var(USER_TUNABLES);
        return;
    }
    let user = std::env::var("GLIBC_TUNABLES").ok();
    if user.as_deref().is_some_and(|t| t.contains("tcache_count")) {
        return;
    }
    let tunables = match user.as_deref() {
        Some(value) if !value.is_empty() => format!("{value}:{OURS}"),
        _ => OURS.to_string(),
    };
    let mut args = std::env::args_os();
    let Some(name) = args.next() else {
        return;
    };
    // exec returns only on failure.
    let _ = std::process::Command::new("/proc/self/exe")
        .arg0(name)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(
            USER_TUNABLES,
            user.map_or_else(|| "unset".to_string(), |value| format!("set:{value}")),
        )
        .exec();
}
