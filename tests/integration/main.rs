//! The one integration-test binary: each module drives the built `secret-render` binary (or the
//! real tools it feeds) and checks what an operator would see.
#![expect(
    clippy::disallowed_methods,
    reason = "tests write their fixtures directly; the product writes through output.rs"
)]

#[cfg_attr(
    not(any(feature = "gcp", feature = "azure")),
    expect(dead_code, reason = "without the cloud fakes only the RabbitMQ one behind OpenBao uses it")
)]
mod http_fake;
mod support;

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
mod check;
mod extract;
mod fault_proxy;
mod faults;
mod fuzz;
#[cfg(feature = "gcp")]
mod gcp;
mod generated;
mod go_yaml;
#[cfg(feature = "kubernetes")]
mod kubernetes;
mod render;
mod run;
mod security;
mod targets_table;
mod triggers;
mod vault;
mod watch;
mod write;
