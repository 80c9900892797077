//! `secret-render run -- CMD ARGS…`: wraps a target's command line (contract sections 3, 6, 7).

use crate::daemon::{self, ChildCommand, DaemonSettings, Verify};
use crate::exit::{ExitCode, Failure};
use crate::render::TargetKind;
use crate::settings::RunSettings;
use crate::supervise::{ReloadTarget, StopSignals, until_stopped_by};

pub async fn run(settings: RunSettings) -> Result<u8, Failure> {
    let RunSettings { mut common, stop_timeout, verify_reload, program, args } = settings;
    // From here on a stop signal is heard: during the `--version` probe, and by the loop after.
    let mut stop_signals = StopSignals::new().map_err(|error| Failure::new(ExitCode::Internal, error.to_string()))?;
    let target = match common.target {
        Some(target) => Some(target),
        None => {
            let detected = match until_stopped_by(&mut stop_signals, daemon::detect_target(&program)).await {
                Ok(detected) => detected,
                Err(code) => return Ok(code),
            };
            match &detected {
                Some(target) => tracing::info!(
                    target = %target.kind,
                    version = %target.version.map(|v| v.to_string()).unwrap_or_default(),
                    "detected the target from --version"
                ),
                None => tracing::info!("cannot tell the target from --version; detecting it from each config's shape"),
            }
            if let Some(note) = detected.and_then(|target| target.unchecked_version()) {
                tracing::warn!("{note}");
            }
            detected
        }
    };
    let found = daemon::rewrite_child_args(&args, &common.out);
    if found.configs.is_empty() {
        return Err(Failure::new(
            ExitCode::Usage,
            "the command has no --config.file or --web.config.file to render; use `watch` or `render` for other programs",
        ));
    }
    let verify = match target.map(|target| target.kind) {
        Some(TargetKind::Prometheus | TargetKind::Alertmanager)
            if verify_reload && found.web_config.as_deref().is_some_and(daemon::web_config_guards_metrics) =>
        {
            tracing::info!(
                "reload verification is off: the web config asks for TLS or basic auth, which its plain check of \
                 /metrics cannot pass; a reload counts as done once the signal is sent"
            );
            None
        }
        Some(kind @ (TargetKind::Prometheus | TargetKind::Alertmanager)) if verify_reload => {
            let default_address = if kind == TargetKind::Prometheus { "0.0.0.0:9090" } else { ":9093" };
            let address = found.listen_address.clone().unwrap_or_else(|| default_address.to_owned());
            let metric = if kind == TargetKind::Prometheus {
                "prometheus_config_last_reload_successful"
            } else {
                "alertmanager_config_last_reload_successful"
            };
            let metrics_url = daemon::metrics_url(&address, found.route_prefix.as_deref());
            Some(Verify { metrics_url, metric: Some(metric) })
        }
        _ => None,
    };
    common.target = target;
    daemon::run(
        DaemonSettings {
            common,
            configs: found.configs,
            reload: Some(ReloadTarget::Child),
            verify,
            stop_timeout,
            child: Some(ChildCommand { program, args: found.args }),
        },
        Some(stop_signals),
    )
    .await
}
