//! The `secret-render` binary: everything lives in the library; this hands over the exit code and
//! chooses the allocator.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(secret_render::main())
}

/// jemalloc rather than glibc's allocator: see its entry in Cargo.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
