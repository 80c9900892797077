//! The `secret-render` binary: everything lives in the library; this only hands over the exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(secret_render::main())
}
