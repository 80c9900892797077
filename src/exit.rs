//! The documented exit codes (contract section 9) and the error type that carries one to `main`.

use std::fmt;

/// Every exit code the tool uses on its own account; under `run` the child's code passes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Internal = 1,
    Usage = 2,
    Config = 3,
    Fetch = 4,
    Output = 5,
    CheckRejected = 6,
}

impl ExitCode {
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that ends the program with a documented exit code. The message is already complete
/// (it may list many problems, one per line) and never contains a secret value.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
