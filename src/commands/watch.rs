//! `secret-render watch CONFIG… --out DIR`: the refresh loop without a child, for the sidecar
//! beside an init container that ran `render`.

use crate::daemon::{self, DaemonSettings, Verify};
use crate::exit::Failure;
use crate::settings::WatchSettings;

pub async fn run(settings: WatchSettings) -> Result<u8, Failure> {
    let WatchSettings { common, configs, reload, verify_url } = settings;
    // The metric follows the target, which is known once the configs are loaded.
    let verify = verify_url.map(|metrics_url| Verify { metrics_url, metric: None });
    if reload.is_none() {
        tracing::warn!(
            "no --reload-pid, --reload-pidfile or --reload-url: files are kept fresh but nothing is reloaded"
        );
    }
    daemon::run(
        DaemonSettings {
            common,
            configs,
            reload,
            verify,
            stop_timeout: crate::supervise::DEFAULT_STOP_TIMEOUT,
            child: None,
        },
        None,
    )
    .await
}
