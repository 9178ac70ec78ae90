//! The async runtime and the machine it runs on.

/// The cores this process may use (2 when the system cannot say).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Row groups decode on blocking threads, one per core at most (the scheduler's decoder
        // permits); two more serve file reads. Each extra thread's allocator arena would keep
        // freed row-group buffers.
        .max_blocking_threads(cores() + 2)
        .build()
}

/// Runs `future` to its end on a new runtime. What is still running then (connections closing,
/// idle threads) is left to the process's exit rather than waited for, which took about 10 ms:
/// the cache of rows survives a stop at any point (FORMAT.md §11).
pub(crate) fn block_on<F: Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = runtime()?;
    let output = runtime.block_on(future);
    runtime.shutdown_background();
    Ok(output)
}
