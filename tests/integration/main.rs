//! The one integration-test binary: each module drives the built `secret-render` binary (or the
//! real tools it feeds) and checks what an operator would see.

mod targets_table;
