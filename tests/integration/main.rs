//! The one integration-test binary: each module drives the built `secret-render` binary (or the
//! real tools it feeds) and checks what an operator would see.
#![expect(
    clippy::disallowed_methods,
    reason = "tests write their fixtures directly; the product writes through output.rs"
)]

mod support;

mod check;
mod generated;
mod go_yaml;
mod render;
mod security;
mod targets_table;
mod vault;
