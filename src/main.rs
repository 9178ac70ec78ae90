use std::process::ExitCode;

use clap::Parser;

/// jemalloc, as uv uses: a scan frees and reallocates a page buffer of up to a megabyte per
/// column page, and glibc's allocator spent about a tenth of the CPU of a run on that churn
/// (consolidating and unlinking chunks); with jemalloc a run from local files takes ~10 % less.
/// On the systems and architectures uv uses it on; elsewhere, the system's allocator.
#[cfg(all(
    not(target_os = "windows"),
    not(target_os = "openbsd"),
    not(target_os = "freebsd"),
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )
))]
mod allocator {
    #[global_allocator]
    static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    /// One arena, not four per core: the threads that decode in turn reuse the same freed page
    /// buffers instead of each arena keeping its own, which took a cold run's peak memory from
    /// ~170–190 MB to ~115 MB on the real-shaped bench corpus at no measured cost in time (README,
    /// Benchmark). `_RJEM_MALLOC_CONF` still overrides it.
    #[allow(non_upper_case_globals)]
    #[unsafe(export_name = "_rjem_malloc_conf")]
    static malloc_conf: &[u8] = b"narenas:1\0";
}

fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`) would kill the process by SIGXFSZ, silently and before it
    // removes its temporary directory: ignored, a write past the limit fails with EFBIG and the
    // run ends as on a full disk.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = healthchat::cli::Cli::parse();
    match healthchat::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => healthchat::exit::report(&error),
    }
}
