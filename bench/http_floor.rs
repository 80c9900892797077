//! The floor of the benchmark: the least any tool must do to read N Vault KV v2 secrets — N
//! concurrent GETs with one keep-alive pool, the token in a header, the JSON parsed — and
//! nothing else (no config, no files, no root certificates for plain http). Same HTTP stack as
//! secret-render (reqwest, HTTP/1.1, 16 at a time), so the ratio measures secret-render's own
//! overhead.
//!
//! Usage: `http_floor ADDRESS TOKEN PATH_PREFIX COUNT` reads `secret/data/PATH_PREFIX/{0..COUNT}`.

use futures_util::StreamExt;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, address, token, prefix, count] = args.as_slice() else {
        eprintln!("usage: http_floor ADDRESS TOKEN PATH_PREFIX COUNT");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let failures = runtime.block_on(async {
        // Plain http needs no root certificates: loading the system's would be work beyond the
        // reads (secret-render skips it too).
        let client = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(16)
            .no_proxy()
            .tls_certs_only(Vec::new())
            .build()
            .expect("client");
        let client = &client;
        futures_util::stream::iter(0..count)
            .map(|index| async move {
                let url = format!("{address}/v1/secret/data/{prefix}/{index}");
                let response = client.get(url).header("X-Vault-Token", token.as_str()).send().await.ok()?;
                let body = response.bytes().await.ok()?;
                let json: serde_json::Value = serde_json::from_slice(&body).ok()?;
                json.pointer("/data/data").map(|_| ())
            })
            .buffer_unordered(16)
            .filter(|result| std::future::ready(result.is_none()))
            .count()
            .await
    });
    if failures > 0 {
        eprintln!("{failures} of {count} reads failed");
        std::process::exit(1);
    }
}
