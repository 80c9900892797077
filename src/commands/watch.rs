//! `secret-render watch CONFIG… --out DIR`: the refresh loop without a child, for the sidecar
//! beside an init container that ran `render`.

use crate::daemon::{self, DaemonSettings, Verify};
use crate::exit::Failure;
use crate::settings::{LoopSettings, WatchSettings};

pub async fn run(settings: WatchSettings) -> Result<u8, Failure> {
    let WatchSettings { common, configs, reload, verify_url } = settings;
    let LoopSettings {
        out,
        output,
        max_concurrency,
        target,
        stores,
        file_roots,
        listen,
        reload_on,
        debounce,
        start_partial,
        watch_targets,
        watch_targets_interval,
    } = common;
    // The metric follows the target, which is known once the configs are loaded.
    let verify = verify_url.map(|metrics_url| Verify { metrics_url, metric: None });
    if reload.is_none() {
        tracing::warn!(
            "no --reload-pid, --reload-pidfile or --reload-url: files are kept fresh but nothing is reloaded"
        );
    }
    daemon::run(DaemonSettings {
        configs,
        target,
        stores,
        file_roots,
        out,
        output,
        max_concurrency,
        reload,
        reload_on,
        debounce,
        verify,
        start_partial,
        stop_timeout: crate::supervise::DEFAULT_STOP_TIMEOUT,
        watch_targets,
        watch_targets_interval,
        listen,
        child: None,
    })
    .await
}
