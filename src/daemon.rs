//! The loop an operator leaves running for months, shared by `run` (with a child) and `watch`
//! (without): resolve until every secret has a value, write, start the child, then sleep until
//! the next deadline — a refresh due, a debounced reload, a grace period ending, a config change,
//! a poll of the targets API, a store's upkeep (a Vault token to renew) — or until a signal, an
//! admin request or the child's exit wakes it.
//! Nothing polls: an idle daemon is parked in one `select!`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::configs::{self, Loaded};
use crate::exit::{ExitCode, Failure};
use crate::out_dir_watch::{self, OutDirEvent, OutDirWatch};
use crate::output::OutputDir;
use crate::path_watch::{Release, SettledWatch};
use crate::provider::{Fetched, Location, ProviderError, ProviderSet};
use crate::refresh::{self, Outcome, Schedule, Status};
use crate::render::{self, Placement, TargetSpec};
use crate::resolve;
use crate::settings::LoopSettings;
use crate::supervise::{self, ChildProcess, ReloadTarget, StopAction, StopSignals, Stopper};
use crate::telemetry::admin::{self, Health, RefreshRequest};
use crate::telemetry::metrics::{Metrics, SecretState};
use crate::tree::{PathSegment, Template};

/// Which changes reload the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadOn {
    /// A rendered config or a secret value changed.
    Any,
    /// Only a rendered config changed (Prometheus re-reads `*_file` secrets on every request).
    Config,
}

/// How to confirm a reload took: the target's `/metrics` and its reload-success metric
/// (`None`: the one of the loaded configs' target).
#[derive(Clone, Debug)]
pub struct Verify {
    pub metrics_url: String,
    pub metric: Option<&'static str>,
}

/// The reload-success metric of the targets `loaded` was rendered for.
fn reload_metric(loaded: &Loaded) -> &'static str {
    if loaded.configs.iter().any(|config| config.profile.kind == render::TargetKind::Alertmanager) {
        "alertmanager_config_last_reload_successful"
    } else {
        "prometheus_config_last_reload_successful"
    }
}

/// The program `run` wraps, with its arguments already pointing at the rendered configs.
#[derive(Clone, Debug)]
pub struct ChildCommand {
    pub program: std::ffi::OsString,
    pub args: Vec<std::ffi::OsString>,
}

/// What the loop runs with: the options `run` and `watch` share, and their own.
pub struct DaemonSettings {
    pub common: LoopSettings,
    pub configs: Vec<PathBuf>,
    pub reload: Option<ReloadTarget>,
    pub verify: Option<Verify>,
    pub stop_timeout: Duration,
    pub child: Option<ChildCommand>,
}

/// The least time between two auth-failure refreshes of one job's secrets from the targets API.
const JOB_TRIGGER_COOLDOWN: Duration = Duration::from_secs(60);
/// How long a reload may take to show in the target's metrics.
const VERIFY_DEADLINE: Duration = Duration::from_secs(30);
/// How long after someone else removes or rewrites a file in the out dir it is written again:
/// an `rm -rf` or a cleanup job's sweep is over by then, and is answered by one write pass.
const OUT_DIR_SETTLE: Duration = Duration::from_millis(100);

/// How long a refresh waits for its fetches before the loop goes on: a store that hangs (up to
/// its `timeout`, 30 s by default) must not hold back the other secrets' refreshes, the out
/// dir's repairs, config edits or reloads. A healthy store answers well within it, so what a
/// refresh changes is still written, and reloaded, together.
const FETCH_PATIENCE: Duration = Duration::from_secs(1);

/// Where a secret is used: its metric name (the secret file's slug), its provider, and the key
/// it takes from the fetched document.
struct Use {
    slug: String,
    provider: &'static str,
    key: Option<String>,
}

struct Daemon {
    settings: DaemonSettings,
    loaded: Loaded,
    /// Each loaded config rendered up to its values, once per load rather than per cycle.
    templates: Vec<Template>,
    providers: ProviderSet,
    schedule: Schedule,
    out: OutputDir,
    /// What each output file (relative to the out dir) holds, as last written or read.
    written: WrittenFiles,
    /// The secret files (relative to the out dir, `.previous` ones included) that each config's
    /// rendering in place names, by config name: kept while a new rendering cannot be written.
    named_by_rendered: HashMap<String, HashSet<PathBuf>>,
    /// The doubtful values (see [`render::Rendered::warnings`]) each config's last rendering
    /// was warned about, by config name: a warning is logged when it appears, not every cycle.
    warned: HashMap<String, Vec<crate::provider::Problem>>,
    /// The source texts the current `loaded` came from, to tell a real change from a touch.
    sources: Vec<Option<Vec<u8>>>,
    /// The configs and the stores file, watched for changes; `None` when inotify is unavailable.
    /// Held for as long as the loop runs: dropping it ends the watch.
    config_watch: Option<SettledWatch<usize>>,
    /// The out dir, watched for files someone else removes or rewrites; `None` when inotify is
    /// unavailable (they are then written again at the next write pass).
    out_watch: Option<OutDirWatch>,
    /// When to write again what someone else removed or rewrote in the out dir.
    out_check_at: Option<Instant>,
    /// Whether a failure to watch the out dir was warned about (it is tried again at each write).
    out_watch_warned: bool,
    uses: HashMap<Location, Vec<Use>>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    http: reqwest::Client,
    reload_at: Option<Instant>,
    reload_failures: u32,
    /// When to try writing the outputs again after a write failed, and how many failed in a row.
    write_retry_at: Option<Instant>,
    write_failures: u32,
    config_check_at: Option<Instant>,
    /// Whether the `.previous` files found in the out dir were taken as this run's to remove
    /// (see [`Daemon::adopt_previous_files`]); not while another writer has the out dir open.
    previous_adopted: bool,
    targets_poll_at: Option<Instant>,
    job_triggered: HashMap<String, Instant>,
    /// Where fetches report each result: a refresh waits for its own only up to
    /// [`FETCH_PATIENCE`], and the loop takes the rest as they come (see [`Daemon::refresh`]).
    fetched_sender: mpsc::UnboundedSender<FetchEvent>,
    fetched: mpsc::UnboundedReceiver<FetchEvent>,
    /// The number of the next batch of fetches (see [`FetchEvent::BatchDone`]).
    next_batch: u64,
    /// Each store's bound on requests at once, shared by every batch (batches overlap while a
    /// store hangs: see [`Daemon::refresh`]).
    fetch_bounds: Arc<resolve::FetchBounds>,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn read_sources(settings: &DaemonSettings) -> Vec<Option<Vec<u8>>> {
    settings.configs.iter().chain(&settings.common.stores).map(|path| std::fs::read(path).ok()).collect()
}

fn state_of(status: Status) -> SecretState {
    match status {
        Status::Success => SecretState::Success,
        Status::Stale => SecretState::Stale,
        Status::Pending | Status::Error => SecretState::Error,
        Status::Fallback => SecretState::Fallback,
    }
}

fn config_failure(issues: &[configs::Issue]) -> Failure {
    Failure::new(ExitCode::Config, configs::describe_issues("invalid configuration", issues))
}

impl Daemon {
    fn load(settings: &DaemonSettings) -> Result<(Loaded, ProviderSet), Failure> {
        let loaded = configs::load_all(&settings.configs, settings.common.target, settings.common.stores.as_deref())
            .map_err(|issues| config_failure(&issues))?;
        let providers = crate::commands::render::providers_for(
            &loaded,
            settings.common.max_concurrency,
            &settings.common.file_roots,
        )?;
        Ok((loaded, providers))
    }

    fn templates_of(loaded: &Loaded, out: &OutputDir) -> Vec<Template> {
        let secrets_dir = out.secrets_dir();
        loaded.configs.iter().map(|config| config.template(&secrets_dir)).collect()
    }

    fn index_uses(loaded: &Loaded) -> HashMap<Location, Vec<Use>> {
        let mut uses: HashMap<Location, Vec<Use>> = HashMap::new();
        for config in &loaded.configs {
            for (index, site) in config.sites.iter().enumerate() {
                uses.entry(site.spec.location.clone()).or_default().push(Use {
                    slug: config.secret_name(index),
                    provider: site.spec.location.kind().name(),
                    key: site.spec.key.clone(),
                });
            }
        }
        uses
    }

    /// Fetches `locations` now and records the outcomes; returns those whose value changed.
    async fn refresh(&mut self, locations: Vec<Location>) -> Vec<(Location, Outcome)> {
        self.fetch_and_record(locations, Some(FETCH_PATIENCE)).await
    }

    /// Fetches `locations` and records the results, waiting for them up to `patience` (`None`:
    /// until every one of them has answered, those already being fetched included). A location
    /// already being fetched is not fetched twice at once: with `patience`, it is fetched again
    /// once its running fetch has answered (which may have read the value before the change
    /// that asks for this one).
    async fn fetch_and_record(
        &mut self,
        locations: Vec<Location>,
        patience: Option<Duration>,
    ) -> Vec<(Location, Outcome)> {
        let (running, locations): (Vec<Location>, Vec<Location>) =
            locations.into_iter().partition(|location| self.schedule.fetching(location));
        let mut waiting: HashSet<Location> = locations.iter().cloned().collect();
        if patience.is_some() {
            for location in &running {
                self.schedule.fetch_again_when_done(location);
            }
        } else {
            waiting.extend(running);
        }
        if waiting.is_empty() {
            return Vec::new();
        }
        for location in &locations {
            self.schedule.start_fetch(location);
        }
        // This batch is done once its reads are and what goes beside them (a Vault store
        // learning its token's TTL, which the token's upkeep is scheduled by).
        let batch = (!locations.is_empty()).then(|| self.spawn_fetches(locations));
        let mut batch_running = batch.is_some();
        let patience = sleep_until_opt(patience.map(|patience| Instant::now() + patience));
        tokio::pin!(patience);
        let mut outcomes = Vec::new();
        while !waiting.is_empty() || batch_running {
            let event = tokio::select! {
                event = self.fetched.recv() => event,
                () = &mut patience => None,
            };
            match event {
                None => break,
                Some(FetchEvent::BatchDone(done)) => batch_running &= Some(done) != batch,
                Some(FetchEvent::Answer(result)) => {
                    waiting.remove(&result.0);
                    outcomes.extend(self.record_fetched(*result));
                }
            }
        }
        if !waiting.is_empty() {
            tracing::debug!(
                still_fetching = waiting.len(),
                "going on without the slowest fetches: their results are taken as they come"
            );
        }
        outcomes
    }

    /// Fetches `locations` on a task of its own, so that the fetches go on when a refresh stops
    /// waiting for them; each result goes to [`Daemon::fetched`], and then the batch's number
    /// (returned), once all it does beside the reads is done too. A fetch that ends without an
    /// answer (a provider's panic) is reported as failed, so that its location does not stay
    /// "being fetched" for good.
    fn spawn_fetches(&mut self, locations: Vec<Location>) -> u64 {
        let batch = self.next_batch;
        self.next_batch += 1;
        let providers = self.providers.clone();
        let sender = self.fetched_sender.clone();
        let bounds = Arc::clone(&self.fetch_bounds);
        tokio::spawn(async move {
            let mut unanswered: HashSet<Location> = locations.iter().cloned().collect();
            let fetches = async {
                let mut fetched = std::pin::pin!(resolve::fetch_stream(locations, &providers, &bounds));
                while let Some(result) = futures_util::StreamExt::next(&mut fetched).await {
                    unanswered.remove(&result.0);
                    if sender.send(FetchEvent::Answer(Box::new(result))).is_err() {
                        return;
                    }
                }
            };
            let ended = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(fetches)).await;
            if ended.is_err() {
                tracing::error!(unanswered = unanswered.len(), "a fetch ended without an answer (an internal error)");
            }
            for location in unanswered {
                let error = ProviderError::Invalid {
                    what: location.to_string(),
                    reason: "the fetch ended without an answer (an internal error)".into(),
                };
                let _ = sender.send(FetchEvent::Answer(Box::new((location, Err(error), Duration::ZERO))));
            }
            let _ = sender.send(FetchEvent::BatchDone(batch));
        });
        batch
    }

    /// Waits, up to [`FETCH_PATIENCE`], until no fetch is running, recording what they answer
    /// meanwhile (a store that hangs is not waited out).
    async fn settle_fetches(&mut self) {
        let patience = sleep_until(Instant::now() + FETCH_PATIENCE);
        tokio::pin!(patience);
        while self.schedule.any_fetching() {
            let event = tokio::select! {
                event = self.fetched.recv() => event,
                () = &mut patience => None,
            };
            match event {
                Some(FetchEvent::Answer(result)) => {
                    self.record_fetched(*result);
                }
                Some(FetchEvent::BatchDone(_)) => {}
                None => break,
            }
        }
    }

    /// Records what fetches a refresh stopped waiting for report: `first`, and whatever else
    /// has come in meanwhile. Returns whether any of it was an answer (else only batches
    /// ending, after which the loop looks at its deadlines again: a token's TTL may be known).
    fn record_late_fetches(&mut self, first: FetchEvent) -> bool {
        let mut answered = false;
        let mut next = Some(first);
        while let Some(event) = next {
            if let FetchEvent::Answer(result) = event {
                self.record_fetched(*result);
                answered = true;
            }
            next = self.fetched.try_recv().ok();
        }
        answered
    }

    /// Records one fetch's result; the outcome of a success.
    fn record_fetched(&mut self, (location, result, duration): crate::provider::Timed) -> Option<(Location, Outcome)> {
        // A location no config names any more (the configs changed meanwhile) is left alone.
        if !self.uses.contains_key(&location) {
            return None;
        }
        let now = Instant::now();
        let provider = location.kind().name();
        // A document that lacks a key the config takes from it is no good value: it is a
        // failed fetch (the last good value stays, retried with backoff from 1 s), not a
        // success scheduled a whole interval away while the secret cannot be rendered.
        let result = result.and_then(|fetched| match self.unusable_key(&location, &fetched) {
            Some(error) => Err(error),
            None => Ok(fetched),
        });
        let outcome = match result {
            Ok(fetched) => {
                self.metrics.record_fetch(provider, duration, None);
                // A value that no longer expires (a lease replaced by a static secret) drops
                // the series rather than keep showing the old end.
                for usage in self.uses.get(&location).into_iter().flatten() {
                    match fetched.expires_at {
                        Some(at) => self.metrics.set_expiry(&usage.slug, usage.provider, at),
                        None => self.metrics.clear_expiry(&usage.slug, usage.provider),
                    }
                }
                let outcome = self.schedule.record_success(&location, fetched, now);
                if outcome == Outcome::Changed {
                    tracing::info!(location = %location, secrets = %self.names_of(&location), "secret value changed");
                }
                Some((location.clone(), outcome))
            }
            Err(error) => {
                self.metrics.record_fetch(provider, duration, Some(error.reason()));
                let kept = if self.schedule.value_for_location(&location) { "; the last good value stays" } else { "" };
                let shown = error.to_string();
                self.schedule.record_failure(&location, error, now);
                let retry_in_secs =
                    self.schedule.next_due(&location).map(|at| at.saturating_duration_since(now).as_secs());
                tracing::warn!(
                    location = %location,
                    secrets = %self.names_of(&location),
                    error = %shown,
                    retry_in_secs,
                    "fetch failed{kept}"
                );
                None
            }
        };
        self.publish(&location);
        outcome
    }

    /// The names of the secrets `location` feeds (their files' names, as in `/metrics`), for
    /// log lines: a location alone does not say which fields of which config it serves.
    fn names_of(&self, location: &Location) -> String {
        let names: Vec<&str> = self.uses.get(location).into_iter().flatten().map(|usage| usage.slug.as_str()).collect();
        names.join(", ")
    }

    /// Why `fetched` cannot serve a secret taken from `location` (a missing key, several keys
    /// where one is needed), if it cannot.
    fn unusable_key(&self, location: &Location, fetched: &Fetched) -> Option<ProviderError> {
        self.uses.get(location)?.iter().find_map(|usage| fetched.select(usage.key.as_deref(), location).err())
    }

    /// Sets the metrics of every secret fed by `location`.
    fn publish(&self, location: &Location) {
        let status = self.schedule.status(location);
        let last_success = self.schedule.last_success(location);
        for usage in self.uses.get(location).into_iter().flatten() {
            // `record_success` also sets the state to success: the real state goes last.
            if let Some(at) = last_success {
                self.metrics.record_success(&usage.slug, usage.provider, at);
            }
            self.metrics.set_state(&usage.slug, usage.provider, state_of(status));
        }
    }

    /// Writes every file whose content differs from what is on disk; returns (configs changed,
    /// secrets changed). A config with a secret never fetched is not written unless
    /// `--start-partial`; nor is one whose values cannot all be used. Such a config's rendering
    /// in place stays whole: the secret files it names are not removed as unused.
    fn write_outputs(&mut self) -> Result<(bool, bool), Failure> {
        let Self { loaded, templates, schedule, out, written, named_by_rendered, warned, settings, .. } = self;
        let mut configs_changed = false;
        let mut secrets_changed = false;
        let mut produced: HashSet<PathBuf> = HashSet::new();
        for (config, template) in loaded.configs.iter().zip(templates.iter()) {
            let mut values = Vec::with_capacity(config.sites.len());
            for site in &config.sites {
                match schedule.value_for(&site.spec) {
                    Some(Ok(value)) => values.push(Some(value)),
                    Some(Err(error)) => {
                        tracing::warn!(path = %site.path, %error, "cannot use the fetched secret");
                        values.push(None);
                    }
                    None => values.push(None),
                }
            }
            let in_place = || kept_in_place(named_by_rendered, config, schedule);
            if values.iter().any(Option::is_none) && !settings.common.start_partial {
                // The rendering in place stays, naming the files it names; those whose value is
                // in hand are kept fresh all the same: a rotation must not wait on another secret
                // that cannot be fetched (at a `watch`'s start, beside an init container's output).
                let in_hand = config.placements.iter().zip(&values).filter_map(|(placement, value)| match placement {
                    Placement::File { file, .. } => Some((file.as_str(), value.as_ref()?.expose())),
                    Placement::Inline => None,
                });
                let previous = previous_values(config, schedule);
                let (kept_fresh, changed) = write_secret_files(out, written, in_hand, &previous)?;
                secrets_changed |= changed;
                produced.extend(kept_fresh);
                produced.extend(in_place());
                continue;
            }
            let rendered = match render::complete(template, &config.sites, &config.placements, values) {
                Ok(rendered) => rendered,
                Err(problems) => {
                    for problem in problems {
                        tracing::error!(config = %config.source.display(), "{problem}");
                    }
                    produced.extend(in_place());
                    continue;
                }
            };
            let before = warned.get(&config.name).map(Vec::as_slice).unwrap_or_default();
            for warning in rendered.warnings.iter().filter(|warning| !before.contains(warning)) {
                tracing::warn!(config = %config.source.display(), "{warning}");
            }
            warned.insert(config.name.clone(), rendered.warnings);
            // This config's changed secret files move into place together, with one sync of
            // `secrets/`, before the config that names them.
            let files = rendered.secret_files.iter().map(|file| (file.name.as_str(), file.value.expose()));
            let previous = previous_values(config, schedule);
            let (named, changed) = write_secret_files(out, written, files, &previous)?;
            secrets_changed |= changed;
            let named: HashSet<PathBuf> = named.into_iter().collect();
            let relative = PathBuf::from(&config.name);
            produced.insert(relative.clone());
            let wanted = digest(rendered.config.expose());
            let repair = written.holds_already(&relative, &wanted);
            if written.changed(out, &relative, &wanted) {
                out.write_config(&config.name, rendered.config.expose())?;
                written.record(out, relative, wanted);
                tracing::info!(config = %config.source.display(), "wrote the rendered config");
                configs_changed |= !repair;
            }
            produced.extend(named.iter().cloned());
            named_by_rendered.insert(config.name.clone(), named);
        }
        // Secret files nothing refers to any more (a removed field, an expired previous value).
        let stale: Vec<PathBuf> = written
            .0
            .keys()
            .filter(|path| path.starts_with(crate::output::SECRETS_DIR) && !produced.contains(*path))
            .cloned()
            .collect();
        for path in stale {
            if let Some(name) = path.file_name().and_then(|name| name.to_str()) {
                out.remove_secret(name)?;
            }
            written.0.remove(&path);
        }
        Ok((configs_changed, secrets_changed))
    }

    /// Takes as written by this run what an earlier run (or `render`) left for this
    /// configuration, so that the first write removes what it does not produce: the `.previous`
    /// files of its secret files (it stopped inside a grace period: the grace they served is
    /// over, or unknown), and the secret files, `.previous` ones too, that the renderings in
    /// place name and the new ones do not (a field taken out of a config while nothing ran). A
    /// file of an old secret must not stay for good. Another config's files are not touched.
    ///
    /// The files a rendering in place names are its config's in place (see
    /// [`kept_in_place`]) until a new rendering replaces it: while the new one cannot be
    /// written (a store down at the start), the target still reads them.
    fn adopt_previous_files(&mut self) {
        self.previous_adopted = true;
        let secrets_dir = self.out.secrets_dir();
        // A set: the `.previous` files of the current secret files are named by both.
        let mut adopted: HashSet<PathBuf> = HashSet::new();
        for config in &self.loaded.configs {
            adopted.extend(config.placements.iter().filter_map(|placement| match placement {
                Placement::File { file, .. } => Some(previous_file(file)),
                Placement::Inline => None,
            }));
            let named =
                crate::commands::render::named_by_last_rendering(&self.out, std::slice::from_ref(config), &secrets_dir);
            let in_place: HashSet<PathBuf> = named
                .iter()
                .flat_map(|name| [PathBuf::from(crate::output::SECRETS_DIR).join(name), previous_file(name)])
                .collect();
            adopted.extend(in_place.iter().cloned());
            self.named_by_rendered.entry(config.name.clone()).or_default().extend(in_place);
        }
        for relative in adopted {
            if let Some(bytes) = self.out.read_existing(&relative) {
                self.written.record(&self.out, relative, digest(&bytes));
            }
        }
    }

    /// [`Daemon::write_outputs`] once the loop runs: a failure (a full tmpfs, a directory where
    /// a file goes) is logged and tried again after a backoff, from 1 s up to a minute, while
    /// the loop and the target run on; the files it did not replace stay as they were. Until
    /// then nothing is written (the retry writes whatever changed meanwhile). A write that
    /// failed part-way may have changed some files, so the first write that succeeds after
    /// failures reports everything as changed, and the target is reloaded. An out dir that was
    /// removed is created again, and everything written into it.
    fn write_outputs_or_retry(&mut self) -> (bool, bool) {
        if self.write_retry_at.is_some_and(|at| Instant::now() < at) {
            return (false, false);
        }
        // `.previous` files left alone at the start beside another writer are taken over once it
        // is gone: those no grace period here holds are then an earlier run's, and removed.
        if !self.previous_adopted && self.out.alone_now() {
            self.adopt_previous_files();
        }
        let written = if self.out.is_gone() {
            match OutputDir::open(&self.settings.common.out, &self.settings.common.output) {
                Ok(out) => {
                    tracing::warn!(
                        path = %out.path().display(),
                        "the output directory was removed or moved away: writing into the one at its path"
                    );
                    self.out = out;
                    self.written = WrittenFiles::default();
                    self.watch_out_dir();
                    self.write_outputs()
                }
                // Not into the old one, wherever it went: the target reads the path.
                Err(error) => Err(Failure::new(
                    ExitCode::Output,
                    format!("the output directory was removed or moved away, and its path cannot be used: {error}"),
                )),
            }
        } else {
            self.write_outputs()
        };
        match written {
            Ok(changes) => {
                self.write_retry_at = None;
                if self.out_watch.is_none() {
                    self.watch_out_dir();
                }
                if std::mem::take(&mut self.write_failures) > 0 {
                    tracing::info!("the outputs are written again");
                    return (true, true);
                }
                changes
            }
            Err(failure) => {
                self.write_failures += 1;
                let wait = refresh::backoff(self.write_failures, Duration::from_secs(60));
                tracing::error!(
                    retry_in_secs = wait.as_secs(),
                    "cannot write the outputs; the files in place stay: {}",
                    failure.message
                );
                self.write_retry_at = Some(Instant::now() + wait);
                (false, false)
            }
        }
    }

    /// Watches the out dir now held ([`OutDirWatch`]); the last watch is closed first, so that
    /// at the inotify instance limit it makes room for this one.
    fn watch_out_dir(&mut self) {
        self.out_watch = None;
        match OutDirWatch::start(&self.out) {
            Ok(watch) => self.out_watch = Some(watch),
            Err(error) if !self.out_watch_warned => {
                self.out_watch_warned = true;
                tracing::warn!(
                    path = %self.out.path().display(),
                    %error,
                    "cannot watch the output directory: a file removed there is written again at the next write \
                     (tried again then)"
                );
            }
            Err(_) => {}
        }
    }

    /// Schedules a write pass when `event` says someone else removed, moved away or rewrote a
    /// file this process wrote: one it no longer finds as it left it. Its own writes (a file
    /// renamed into place, one it removed) make events too, and are told apart that way.
    fn out_dir_changed(&mut self, event: Option<OutDirEvent>) {
        let Some(event) = event else {
            tracing::warn!(
                "the output directory's watch failed: a file removed there is written again at the next refresh"
            );
            self.out_watch = None;
            return;
        };
        if self.out_check_at.is_some() {
            return;
        }
        // Another `run`/`watch`/`render` writing here (warned about at the start) is not undone
        // at each of its writes: the two would rewrite each other without end.
        if !self.out.alone_now() {
            tracing::debug!("another writer has the output directory open: its changes there are left alone");
            return;
        }
        match event {
            OutDirEvent::Dirs => {}
            OutDirEvent::Entry(relative) => {
                let Some(file) = self.written.0.get(&relative) else { return };
                if file.identity.is_some() && file.identity == self.out.identity(&relative) {
                    return;
                }
                tracing::warn!(
                    file = %self.out.path().join(&relative).display(),
                    "removed, moved away or rewritten by someone else: writing it again"
                );
            }
        }
        self.out_check_at = Some(Instant::now() + OUT_DIR_SETTLE);
    }

    /// Schedules a (debounced) reload after a change. Under `run` only while the child runs;
    /// under `watch` the target is someone else's to have running. A change brings forward a
    /// retry waiting out a failed reload's backoff (up to 5 minutes): the change may be the
    /// operator's fix for what the target refused.
    fn note_changes(&mut self, (configs_changed, secrets_changed): (bool, bool), child_running: bool) {
        let wanted = configs_changed || (secrets_changed && self.settings.common.reload_on == ReloadOn::Any);
        let target_up = self.settings.child.is_none() || child_running;
        if wanted && self.settings.reload.is_some() && target_up {
            let debounced = Instant::now() + self.settings.common.debounce;
            self.reload_at = Some(self.reload_at.map_or(debounced, |at| at.min(debounced)));
        }
    }

    /// Starts a reload of the target; under `run` by SIGHUP to `child_group` (the child's
    /// process group), which the loop passes by id so the child itself stays watched. The
    /// returned future reads the baseline, sends the reload and verifies it (up to
    /// [`VERIFY_DEADLINE`]); the loop polls it beside everything else, so refreshes, config
    /// edits and auth-failure triggers are not held up while a target is slow to confirm.
    /// Changes made meanwhile schedule the next reload, sent once this one is done.
    fn start_reload(&mut self, child_group: Option<u32>) -> Option<ReloadInFlight> {
        let target = self.settings.reload.clone()?;
        self.reload_at = None;
        let verify =
            self.settings.verify.as_ref().map(|verify| {
                (verify.metrics_url.clone(), verify.metric.unwrap_or_else(|| reload_metric(&self.loaded)))
            });
        let http = self.http.clone();
        Some(Box::pin(async move {
            let baseline = match &verify {
                Some((url, metric)) => supervise::reload_baseline(url, metric, &http).await.unwrap_or_else(|error| {
                    // Without the target's last success to compare with, a success it reported
                    // before this reload must not confirm it: only one stamped from now on does
                    // (less a second for the clocks' granularity).
                    tracing::debug!(%error, "cannot read the target's reload state before reloading");
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                    supervise::ReloadBaseline { successful: None, success_timestamp: Some(now.as_secs_f64() - 1.0) }
                }),
                None => supervise::ReloadBaseline::default(),
            };
            match (&target, child_group) {
                (ReloadTarget::Child, Some(group)) => supervise::signal_group(group, rustix::process::Signal::HUP)?,
                (target, _) => supervise::reload(target, None, &http).await?,
            }
            if let Some((url, metric)) = &verify {
                supervise::verify(url, metric, baseline, &http, VERIFY_DEADLINE).await?;
            }
            Ok(())
        }))
    }

    /// Records how a reload [`Daemon::start_reload`] started ended; a failed one is sent again
    /// after a backoff.
    /// Whether a reload now due may replace the one in flight: when that one retries a reload
    /// the target refused. Its confirmation can only come at its deadline (the target's success
    /// flag was 0 before it and stays 0 while the config is still refused), so a fix written
    /// meanwhile would wait up to [`VERIFY_DEADLINE`] for the reload it needs.
    fn supersedes_reload(&self) -> bool {
        self.reload_failures > 0
    }

    fn finish_reload(&mut self, result: Result<(), supervise::SuperviseError>) {
        match result {
            Ok(()) => {
                tracing::info!("reloaded the target");
                self.metrics.record_reload(true);
                self.reload_failures = 0;
            }
            Err(error) => {
                self.metrics.record_reload(false);
                self.reload_failures += 1;
                let wait = refresh::backoff(self.reload_failures, Duration::from_secs(300));
                // With its causes: "error sending request" alone does not say refused or timed out.
                let error = crate::provider::error_chain(&error);
                tracing::error!(%error, retry_in_secs = wait.as_secs(), "reload failed");
                self.reload_at = Some(Instant::now() + wait);
            }
        }
    }

    /// An auth failure: refetch now, reading afresh what a provider would otherwise only extend
    /// (a Vault lease); where the store brings nothing newer (the same value, or no answer) and
    /// a previous value is within its grace period, put it back until a refresh succeeds.
    async fn auth_failure(&mut self, locations: Vec<Location>) -> bool {
        for location in &locations {
            if let Some(provider) = self.providers.get(location.kind(), location.store()) {
                provider.forget(location);
            }
        }
        // Every answer is awaited, those of fetches already running too: a fallback decided
        // without one would be undone when it came (an unchanged value counts as a success).
        // A store that hangs holds the loop here (stop signals still get through) until these
        // fetches time out: several timeouts when their requests queue behind earlier refreshes'
        // for the store's `--max-concurrency` permits, or a Kubernetes read is tried again with
        // its client built anew after a 401. Auth failures are rare.
        let outcomes: HashMap<Location, Outcome> =
            self.fetch_and_record(locations.clone(), None).await.into_iter().collect();
        let now = Instant::now();
        let mut fell_back = false;
        for location in locations {
            let nothing_newer = outcomes.get(&location).is_none_or(|outcome| *outcome == Outcome::Unchanged);
            if nothing_newer && self.schedule.fall_back(&location, now) {
                tracing::warn!(
                    location = %location,
                    secrets = %self.names_of(&location),
                    "auth failure with no newer value: writing the previous value back"
                );
                self.publish(&location);
                fell_back = true;
            }
        }
        fell_back
    }

    /// Every secret's name (its file's slug), for the admin listener.
    fn secret_names(&self) -> Vec<String> {
        self.uses.values().flatten().map(|usage| usage.slug.clone()).collect()
    }

    /// A watched config or stores file changed, and its writes have settled: read the
    /// configuration again.
    fn config_files_changed(&mut self) {
        self.config_check_at.get_or_insert(Instant::now());
    }

    /// SIGHUP: read the configuration again now, even if its files look unchanged, and, once
    /// the target runs (`reload_target`), reload it after that whether or not anything changed:
    /// an operator's `kill -HUP` (or `docker kill -s HUP`) to the wrapper asks the target to
    /// reload, for its rule files and whatever else it reads, as it would without a wrapper.
    fn reread_on_sighup(&mut self, reload_target: bool) {
        tracing::info!("SIGHUP: re-reading the configuration");
        if reload_target && self.settings.reload.is_some() {
            self.reload_at = Some(Instant::now());
        }
        // And watching again what the paths lead to now (a directory that could not be watched
        // before, the inotify limit since raised).
        if let Some(watch) = &self.config_watch {
            watch.rewatch();
        }
        self.sources.clear();
        self.config_check_at = Some(Instant::now());
    }

    /// The locations a `POST /-/refresh` (or, without a name, SIGUSR1 before the start) asks
    /// to fetch now, logged.
    fn requested(&self, secret: Option<&str>) -> Vec<Location> {
        let locations = self.locations_named(secret);
        tracing::info!(secret = secret.unwrap_or("(all)"), count = locations.len(), "refresh requested");
        locations
    }

    /// The locations a `POST /-/refresh?secret=NAME` names (all without a name).
    fn locations_named(&self, secret: Option<&str>) -> Vec<Location> {
        self.uses
            .iter()
            .filter(|(_, uses)| secret.is_none_or(|name| uses.iter().any(|usage| admin::names(&usage.slug, name))))
            .map(|(location, _)| location.clone())
            .collect()
    }

    /// The locations used under `scrape_configs[job_name=JOB]`.
    fn locations_of_job(&self, job: &str) -> Vec<Location> {
        let mut found = Vec::new();
        for config in &self.loaded.configs {
            for site in &config.sites {
                let segments = site.path.segments();
                let in_job = matches!(segments, [PathSegment::Key(key), PathSegment::Item { label: Some((field, name)), .. }, ..]
                    if key == "scrape_configs" && field == "job_name" && name == job);
                if in_job && !found.contains(&site.spec.location) {
                    found.push(site.spec.location.clone());
                }
            }
        }
        found
    }

    /// Reads the targets API; returns the jobs whose targets fail with 401/403.
    async fn jobs_failing_auth(&self, base: &str) -> Vec<String> {
        let url = format!("{}/api/v1/targets?state=active", base.trim_end_matches('/'));
        // The URL may carry credentials (`http://user:password@…`): shown without them.
        let shown = || crate::supervise::reload::display_url(&url);
        let response = match self.http.get(&url).send().await {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => {
                tracing::warn!(url = shown(), status = %response.status(), "cannot read the targets API");
                return Vec::new();
            }
            Err(error) => {
                let error = error.without_url();
                tracing::warn!(url = shown(), %error, "cannot read the targets API");
                return Vec::new();
            }
        };
        let Ok(body) = response.bytes().await else { return Vec::new() };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return Vec::new() };
        let mut jobs: Vec<String> = json
            .pointer("/data/activeTargets")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter(|target| {
                let error = target.get("lastError").and_then(serde_json::Value::as_str).unwrap_or_default();
                error.contains(" 401") || error.contains(" 403")
            })
            .filter_map(|target| target.get("scrapePool").and_then(serde_json::Value::as_str).map(str::to_owned))
            .collect();
        jobs.sort();
        jobs.dedup();
        jobs
    }

    /// When a store client next has upkeep due (a Vault token to renew).
    fn next_upkeep(&self) -> Option<Instant> {
        self.providers.next_upkeep().map(Instant::from_std)
    }

    /// Whether a store client's upkeep is due by `now`.
    fn upkeep_due(&self, now: Instant) -> bool {
        self.next_upkeep().is_some_and(|at| at <= now)
    }

    /// Re-reads the configs after a change; an invalid new config keeps the last good output.
    async fn reload_configs(&mut self) -> Result<bool, Failure> {
        let sources = read_sources(&self.settings);
        if sources == self.sources {
            return Ok(false);
        }
        self.sources = sources;
        match Self::load(&self.settings) {
            Ok((loaded, providers)) => {
                tracing::info!("the configuration was read again: re-rendering");
                self.metrics.record_config_reading(true, SystemTime::now());
                // The old clients hand their logins and leases over to the new ones: fetches
                // still running on them would record theirs too late to go along.
                self.settle_fetches().await;
                // A secret is gone when its name is (a removed field, a renamed job), even if
                // its location is still used elsewhere: its series would stand frozen.
                let uses = Self::index_uses(&loaded);
                let kept: HashSet<(&str, &str)> =
                    uses.values().flatten().map(|usage| (usage.slug.as_str(), usage.provider)).collect();
                for usage in self.uses.values().flatten() {
                    if !kept.contains(&(usage.slug.as_str(), usage.provider)) {
                        self.metrics.forget(&usage.slug, usage.provider);
                    }
                }
                let removed: Vec<Location> =
                    self.uses.keys().filter(|location| !uses.contains_key(*location)).cloned().collect();
                self.schedule.reconcile(loaded.specs(), Instant::now());
                self.uses = uses;
                self.health.set_secrets(self.secret_names());
                self.templates = Self::templates_of(&loaded, &self.out);
                self.loaded = loaded;
                providers.take_over(&self.providers);
                self.providers = providers;
                // What the old clients kept for locations no config uses now (a Vault lease,
                // and with it a token kept renewed) is not carried on.
                for location in &removed {
                    if let Some(provider) = self.providers.get(location.kind(), location.store()) {
                        provider.forget(location);
                    }
                }
                let due = self.schedule.due(Instant::now());
                self.refresh(due).await;
                Ok(true)
            }
            Err(failure) => {
                tracing::error!("the new configuration is invalid; keeping the last good output:\n{}", failure.message);
                self.metrics.record_config_reading(false, SystemTime::now());
                Ok(false)
            }
        }
    }

    /// Logs every provider map still without a value, with why.
    fn log_missing(&self) {
        let missing: Vec<String> = self
            .loaded
            .configs
            .iter()
            .flat_map(|config| config.sites.iter().map(move |site| (config, site)))
            .filter_map(|(config, site)| {
                let reason = match self.schedule.value_for(&site.spec) {
                    Some(Ok(_)) => return None,
                    Some(Err(error)) => error.to_string(),
                    None => self
                        .schedule
                        .last_error(&site.spec.location)
                        .map_or_else(|| "not fetched yet".to_owned(), ToString::to_string),
                };
                Some(format!("{}: {}: {reason}", config.source.display(), site.path))
            })
            .collect();
        tracing::warn!(
            "not every secret has a value yet; retrying before starting the target ({} missing):\n  {}",
            missing.len(),
            missing.join("\n  ")
        );
    }

    /// Lets providers that can push changes (a Kubernetes watch) do so for every location.
    fn watch_locations(&self, changed: &mpsc::UnboundedSender<Location>) {
        let watched = self.providers.watch(self.uses.keys(), changed);
        if watched > 0 {
            tracing::info!(watched, "watching secrets for changes");
        }
    }

    /// Whether every provider map has a usable value (a fetched location can still lack a key).
    fn all_values_ready(&self) -> bool {
        self.loaded.specs().all(|spec| matches!(self.schedule.value_for(spec), Some(Ok(_))))
    }

    fn update_ready(&self, child_running: bool) {
        self.health.set_ready(self.all_values_ready() && (self.settings.child.is_none() || child_running));
    }
}

/// Whether `contents` differs from the file's last known content (read from disk the first time,
/// so a restart over an init container's output causes no needless write or reload).
/// Where the previous value of the secret file `file` (a name in `secrets/`) is kept during
/// its grace period, relative to the out dir.
fn previous_file(file: &str) -> PathBuf {
    PathBuf::from(crate::output::SECRETS_DIR).join(previous_name(file))
}

/// The name in `secrets/` of [`previous_file`].
fn previous_name(file: &str) -> String {
    format!("{file}.previous")
}

/// The previous value of each of `config`'s file secrets still within its grace period, with
/// the name of its `.previous` file.
fn previous_values(config: &crate::configs::Config, schedule: &Schedule) -> Vec<(String, crate::secret::Secret)> {
    config
        .sites
        .iter()
        .zip(&config.placements)
        .filter_map(|(site, placement)| match placement {
            Placement::File { file, .. } => Some((previous_name(file), schedule.previous_for(&site.spec)?)),
            Placement::Inline => None,
        })
        .collect()
}

/// Writes the secret files `values` and the `.previous` files `previous` (names in `secrets/`,
/// with their contents) whose content differs from what is on disk, together with one sync;
/// returns the paths of all of them relative to the out dir, and whether a value changed (a
/// `.previous` file rewritten is no change to reload for).
fn write_secret_files<'a>(
    out: &OutputDir,
    written: &mut WrittenFiles,
    values: impl Iterator<Item = (&'a str, &'a [u8])>,
    previous: &[(String, crate::secret::Secret)],
) -> Result<(Vec<PathBuf>, bool), Failure> {
    let previous = previous.iter().map(|(name, value)| (name.as_str(), value.expose(), false));
    let mut staged = None;
    let mut staged_digests = Vec::new();
    let mut paths = Vec::new();
    let mut values_changed = false;
    for (name, contents, is_value) in values.map(|(name, contents)| (name, contents, true)).chain(previous) {
        let relative = PathBuf::from(crate::output::SECRETS_DIR).join(name);
        let wanted = digest(contents);
        let repair = written.holds_already(&relative, &wanted);
        if written.changed(out, &relative, &wanted) {
            let staging = staged.get_or_insert_with(|| out.stage_secrets());
            staging.stage(name, contents)?;
            staged_digests.push((relative.clone(), wanted));
            // Writing back what someone removed or overwrote changes no value the target holds.
            values_changed |= is_value && !repair;
        }
        paths.push(relative);
    }
    if let Some(staged) = staged {
        staged.commit()?;
        for (relative, digest) in staged_digests {
            written.record(out, relative, digest);
        }
    }
    Ok((paths, values_changed))
}

/// The files the rendering in place of `config` names, kept while a new one cannot be written,
/// less the `.previous` files whose grace period is over: an old secret must not outstay it
/// because the config broke.
fn kept_in_place(
    named_by_rendered: &HashMap<String, HashSet<PathBuf>>,
    config: &crate::configs::Config,
    schedule: &Schedule,
) -> Vec<PathBuf> {
    let expired: HashSet<PathBuf> = config
        .sites
        .iter()
        .zip(&config.placements)
        .filter_map(|(site, placement)| match placement {
            Placement::File { file, .. } if schedule.previous_for(&site.spec).is_none() => Some(previous_file(file)),
            _ => None,
        })
        .collect();
    named_by_rendered.get(&config.name).into_iter().flatten().filter(|path| !expired.contains(*path)).cloned().collect()
}

/// What each output file holds, as this process last wrote or read it, and the file's identity
/// then: a file someone else removed or replaced since (its identity changed) is looked at
/// again, and rewritten when it no longer holds its value.
#[derive(Default)]
struct WrittenFiles(HashMap<PathBuf, WrittenFile>);

struct WrittenFile {
    digest: [u8; 32],
    identity: Option<crate::output::FileIdentity>,
}

impl WrittenFiles {
    /// Whether `relative` must be written to hold contents whose digest is `wanted`.
    fn changed(&mut self, out: &OutputDir, relative: &Path, wanted: &[u8; 32]) -> bool {
        let identity = out.identity(relative);
        let known = self.0.get(relative).is_some_and(|file| identity.is_some() && file.identity == identity);
        if !known {
            match out.read_existing(relative) {
                Some(bytes) => {
                    self.0.insert(relative.to_owned(), WrittenFile { digest: digest(&bytes), identity });
                }
                None => {
                    self.0.remove(relative);
                }
            }
        }
        self.0.get(relative).is_none_or(|file| file.digest != *wanted)
    }

    /// Whether contents of digest `wanted` are what this process last wrote (or read) at
    /// `relative`, whatever is there now: writing them again repairs a file someone removed or
    /// overwrote, and changes nothing the target was given.
    fn holds_already(&self, relative: &Path, wanted: &[u8; 32]) -> bool {
        self.0.get(relative).is_some_and(|file| file.digest == *wanted)
    }

    /// Notes that `relative` now holds contents of `digest` (just written, or read).
    fn record(&mut self, out: &OutputDir, relative: PathBuf, digest: [u8; 32]) {
        let identity = out.identity(&relative);
        self.0.insert(relative, WrittenFile { digest, identity });
    }
}

/// Watches the configs and the stores file ([`SettledWatch`]: editors replace files, Kubernetes
/// swaps a ConfigMap's `..data` symlink, configuration management links a config from elsewhere
/// and edits or retargets it) and wakes the loop through `sender` once a change has settled and
/// no watched file is still held open by a writer: a config half-written by `cmd >
/// prometheus.yml` may parse, and must not be rendered, and the loop reads every config when it
/// wakes. A config that does not parse is kept out until the next change.
fn watch_config_files(settings: &DaemonSettings, sender: mpsc::Sender<()>) -> Option<SettledWatch<usize>> {
    // Each path its own item: one writer's close says nothing of another file still open.
    let paths =
        settings.configs.iter().chain(&settings.common.stores).cloned().enumerate().map(|(index, path)| (path, index));
    let watch = SettledWatch::start(paths.collect(), Release::Together, move |_settled| {
        // Full: a wake-up is already waiting, and the loop reads every config when it comes.
        !matches!(sender.try_send(()), Err(mpsc::error::TrySendError::Closed(())))
    });
    match watch {
        Ok(watch) if watch.watched() == 0 => {
            tracing::warn!("cannot watch the directories of the config files; changes need SIGHUP or a restart");
            Some(watch)
        }
        Ok(watch) => Some(watch),
        Err(error) => {
            tracing::warn!(%error, "cannot watch the config files; changes need SIGHUP or a restart");
            None
        }
    }
}

/// `first` and every other change already reported with it (a rotation of many `file` sources,
/// a Kubernetes `..data` swap), to be fetched and written as one batch: one at a time, a
/// thousand changed sources took a thousand writes of every output.
/// Those the configs no longer use (a change seen as they were read again) are left out.
fn reported_together(
    first: Location,
    changed: &mut mpsc::UnboundedReceiver<Location>,
    uses: &HashMap<Location, Vec<Use>>,
) -> Vec<Location> {
    let mut locations = vec![first];
    while let Ok(location) = changed.try_recv() {
        locations.push(location);
    }
    locations.retain(|location| uses.contains_key(location));
    locations.sort();
    locations.dedup();
    tracing::debug!(count = locations.len(), "stores report changes");
    locations
}

async fn wait_child(child: &mut Option<ChildProcess>) -> supervise::ExitOutcome {
    match child {
        Some(child) => child.wait().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// Runs the loop; returns the exit code (the child's, or 128+N after a stop signal).
/// Runs the loop; `stop_signals` are listeners `run` made before starting its `--version` probe
/// (created here when `None`).
pub async fn run(settings: DaemonSettings, stop_signals: Option<StopSignals>) -> Result<u8, Failure> {
    crate::install_crypto_provider();
    crate::output::refuse_to_replace_configs(&settings.common.out, &settings.configs)
        .map_err(crate::output::unusable_dir)?;
    if let Some(target) = &settings.reload
        && let Err(error) = supervise::check_reload_signal(target)
    {
        tracing::warn!(
            "cannot reload {target}: {error}; every reload fails until it can (checked at start, nothing sent)"
        );
    }
    let (loaded, providers) = Daemon::load(&settings)?;
    let out = OutputDir::open(&settings.common.out, &settings.common.output).map_err(crate::output::unusable_dir)?;
    let metrics = Arc::new(Metrics::new());
    metrics.record_config_reading(true, SystemTime::now());
    let health = Arc::new(Health::new());
    let (refresh_sender, mut refresh_requests) = mpsc::channel::<RefreshRequest>(16);
    let _admin = match &settings.common.listen {
        Some(address) => {
            let listener =
                admin::bind(address).await.map_err(|error| Failure::new(ExitCode::Usage, error.to_string()))?;
            tracing::info!(address, "admin listener up: /metrics, /-/healthy, /-/ready, POST /-/refresh");
            Some(AbortOnDrop(tokio::spawn(admin::serve(listener, metrics.clone(), health.clone(), refresh_sender))))
        }
        None => None,
    };
    let listen = |kind: tokio::signal::unix::SignalKind| {
        tokio::signal::unix::signal(kind)
            .map_err(|error| Failure::new(ExitCode::Internal, format!("cannot listen for signals: {error}")))
    };
    let mut usr1 = listen(tokio::signal::unix::SignalKind::user_defined1())?;
    let mut hangup = listen(tokio::signal::unix::SignalKind::hangup())?;
    let stop_signals = match stop_signals {
        Some(signals) => signals,
        None => StopSignals::new().map_err(|error| Failure::new(ExitCode::Internal, error.to_string()))?,
    };
    let (file_sender, mut file_events) = mpsc::channel::<()>(1);
    let config_watch = watch_config_files(&settings, file_sender);

    let now = Instant::now();
    let (fetched_sender, fetched) = mpsc::unbounded_channel();
    let mut daemon = Daemon {
        schedule: Schedule::new(loaded.specs(), now),
        uses: Daemon::index_uses(&loaded),
        sources: read_sources(&settings),
        config_watch,
        out_watch: None,
        out_check_at: None,
        out_watch_warned: false,
        templates: Daemon::templates_of(&loaded, &out),
        loaded,
        providers,
        out,
        written: WrittenFiles::default(),
        named_by_rendered: HashMap::new(),
        warned: HashMap::new(),
        metrics,
        health,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .map_err(|error| Failure::new(ExitCode::Internal, format!("cannot build the HTTP client: {error}")))?,
        reload_at: None,
        reload_failures: 0,
        write_retry_at: None,
        write_failures: 0,
        config_check_at: None,
        previous_adopted: false,
        targets_poll_at: settings.common.watch_targets.as_ref().map(|_| now + settings.common.watch_targets_interval),
        job_triggered: HashMap::new(),
        fetched_sender,
        fetched,
        next_batch: 0,
        fetch_bounds: Arc::new(resolve::FetchBounds::new(settings.common.max_concurrency)),
        settings,
    };
    daemon.health.set_secrets(daemon.secret_names());

    // Until every secret has a value (or --start-partial), nothing is started.
    let mut guard = Guard {
        wraps_a_child: daemon.settings.child.is_some(),
        child: None,
        signals: stop_signals,
        stopper: Stopper::new(daemon.settings.stop_timeout),
    };
    // Meanwhile an operator's fix is taken as in the loop below: a config edit or SIGHUP
    // re-reads the configuration, SIGUSR1 or `POST /-/refresh` fetches at once, and so does a
    // change a store reports (a missing `file` source created, a Kubernetes Secret updated).
    let (changed_sender, mut changed_locations) = mpsc::unbounded_channel::<Location>();
    daemon.watch_locations(&changed_sender);
    // A `watch` that finds an earlier rendering (an init container's, or its own before a
    // restart) serves a target that may be running on it: what this first write changes there
    // needs a reload like any later change. `run` starts its child after the write.
    let watching = daemon.settings.child.is_none();
    let found_a_rendering =
        daemon.loaded.configs.iter().any(|config| daemon.out.read_existing(Path::new(&config.name)).is_some());
    loop {
        if daemon.config_check_at.is_some_and(|at| at <= Instant::now()) {
            daemon.config_check_at = None;
            if guarded!(guard, daemon.reload_configs())? {
                daemon.watch_locations(&changed_sender);
            }
        }
        if daemon.upkeep_due(Instant::now()) {
            guarded!(guard, daemon.providers.upkeep());
        }
        let due = daemon.schedule.due(Instant::now());
        guarded!(guard, daemon.refresh(due));
        // A `watch` beside a rendering in place has no target to hold back: it goes on with what
        // it has, keeping fresh every secret file whose value is in hand.
        if daemon.all_values_ready() || daemon.settings.common.start_partial || (watching && found_a_rendering) {
            break;
        }
        daemon.log_missing();
        let deadline = earliest([daemon.schedule.next_deadline(), daemon.next_upkeep(), daemon.config_check_at]);
        let woken = guarded!(guard, async {
            tokio::select! {
                () = sleep_until_opt(deadline) => None,
                Some(()) = file_events.recv() => Some(BeforeStart::ConfigChanged),
                _ = hangup.recv() => Some(BeforeStart::Reread),
                _ = usr1.recv() => Some(BeforeStart::Refresh(None)),
                Some(request) = refresh_requests.recv() => Some(BeforeStart::Refresh(request.secret)),
                Some(location) = changed_locations.recv() => Some(BeforeStart::Changed(location)),
                Some(result) = daemon.fetched.recv() => Some(BeforeStart::Fetched(result)),
            }
        });
        match woken {
            None => {}
            Some(BeforeStart::ConfigChanged) => daemon.config_files_changed(),
            Some(BeforeStart::Reread) => daemon.reread_on_sighup(false),
            Some(BeforeStart::Refresh(secret)) => {
                let locations = daemon.requested(secret.as_deref());
                guarded!(guard, daemon.refresh(locations));
            }
            Some(BeforeStart::Changed(location)) => {
                let locations = reported_together(location, &mut changed_locations, &daemon.uses);
                guarded!(guard, daemon.refresh(locations));
            }
            Some(BeforeStart::Fetched(result)) => {
                daemon.record_late_fetches(result);
            }
        }
    }
    // Another `run`/`watch` writing here would have its `.previous` files (inside their grace
    // period) taken for leftovers and removed; the two would rewrite each other's files.
    if daemon.out.opened_beside_another_writer() {
        tracing::warn!(
            path = %daemon.out.path().display(),
            "another process has this output directory open (a second run or watch?): each would rewrite what the \
             other writes; `.previous` files are left alone while it has"
        );
    } else {
        daemon.adopt_previous_files();
    }
    let changes = daemon.write_outputs()?;
    daemon.watch_out_dir();
    if watching && found_a_rendering {
        daemon.note_changes(changes, false);
    }
    if let Some(command) = &daemon.settings.child {
        let child = match ChildProcess::spawn(&command.program, &command.args) {
            Ok(child) => child,
            // As a shell, `env` or a container runtime says it: 127 for a program not found,
            // 126 for one that cannot be executed.
            Err(supervise::SuperviseError::Spawn { program, source }) => {
                let code = if source.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                tracing::error!(code, "cannot start the target `{program}`: {source}");
                return Ok(code);
            }
            Err(error) => return Err(Failure::new(ExitCode::Internal, error.to_string())),
        };
        tracing::info!(pid = child.pid(), program = %command.program.to_string_lossy(), "started the target");
        guard.child = Some(child);
    }
    daemon.update_ready(guard.child.is_some());
    let mut reloading: Option<ReloadInFlight> = None;

    loop {
        if guard.stopper.is_stopping() {
            // Stopping: no more refreshes or reloads; wait for the child, escalating on time.
            if let Some(code) = guard.wait_stopping().await {
                return Ok(code);
            }
            continue;
        }
        let child_running = guard.child.is_some();
        let deadline = earliest([
            daemon.schedule.next_deadline(),
            // One reload at a time: the next waits for the one in flight to end, unless that
            // one retries a reload the target refused (see `supersedes_reload`).
            daemon.reload_at.filter(|_| reloading.is_none() || daemon.supersedes_reload()),
            daemon.config_check_at,
            daemon.targets_poll_at,
            daemon.write_retry_at,
            daemon.out_check_at,
            daemon.next_upkeep(),
        ]);
        tokio::select! {
            outcome = wait_child(&mut guard.child) => {
                if outcome.exit_code() == 0 {
                    tracing::info!(code = 0, "the target exited");
                } else {
                    tracing::warn!(code = outcome.exit_code(), "the target exited with a failure; its own output says why");
                }
                return Ok(outcome.exit_code());
            }
            signal = guard.signals.next() => {
                if let Some(code) = guard.on_stop_signal(signal) {
                    return Ok(code);
                }
            }
            _ = usr1.recv() => {
                tracing::info!("SIGUSR1: refreshing every secret now");
                let all = daemon.locations_named(None);
                guarded!(guard, daemon.auth_failure(all));
                let changes = daemon.write_outputs_or_retry();
                daemon.note_changes(changes, child_running);
            }
            _ = hangup.recv() => daemon.reread_on_sighup(child_running || daemon.settings.child.is_none()),
            Some(request) = refresh_requests.recv() => {
                let locations = daemon.requested(request.secret.as_deref());
                guarded!(guard, daemon.auth_failure(locations));
                let changes = daemon.write_outputs_or_retry();
                daemon.note_changes(changes, child_running);
            }
            Some(location) = changed_locations.recv() => {
                let locations = reported_together(location, &mut changed_locations, &daemon.uses);
                guarded!(guard, daemon.refresh(locations));
                let changes = daemon.write_outputs_or_retry();
                daemon.note_changes(changes, child_running);
            }
            Some(()) = file_events.recv() => daemon.config_files_changed(),
            Some(event) = daemon.fetched.recv() => {
                if daemon.record_late_fetches(event) {
                    let changes = daemon.write_outputs_or_retry();
                    daemon.note_changes(changes, child_running);
                }
            }
            event = out_dir_watch::next_event(&mut daemon.out_watch) => daemon.out_dir_changed(event),
            result = reload_done(&mut reloading) => {
                reloading = None;
                daemon.finish_reload(result);
            }
            () = sleep_until_opt(deadline) => {
                let now = Instant::now();
                // What someone else removed or rewrote in the out dir is written by this
                // branch's write pass, below.
                if daemon.out_check_at.is_some_and(|at| at <= now) {
                    daemon.out_check_at = None;
                }
                if daemon.config_check_at.is_some_and(|at| at <= now) {
                    daemon.config_check_at = None;
                    if guarded!(guard, daemon.reload_configs())? {
                        daemon.watch_locations(&changed_sender);
                    }
                }
                if daemon.targets_poll_at.is_some_and(|at| at <= now) {
                    daemon.targets_poll_at = Some(now + daemon.settings.common.watch_targets_interval);
                    if let Some(base) = daemon.settings.common.watch_targets.clone() {
                        let jobs = guarded!(guard, daemon.jobs_failing_auth(&base));
                        for job in jobs {
                            let recent = daemon.job_triggered.get(&job).is_some_and(|at| now.duration_since(*at) < JOB_TRIGGER_COOLDOWN);
                            if recent {
                                continue;
                            }
                            daemon.job_triggered.insert(job.clone(), now);
                            let locations = daemon.locations_of_job(&job);
                            if locations.is_empty() {
                                // Not ours to fix: its credentials come from elsewhere.
                                tracing::debug!(job, "targets API shows 401/403 for a job with no secrets of ours");
                                continue;
                            }
                            tracing::warn!(job, secrets = locations.len(), "targets API shows 401/403: refreshing the job's secrets");
                            guarded!(guard, daemon.auth_failure(locations));
                        }
                    }
                }
                if daemon.upkeep_due(now) {
                    guarded!(guard, daemon.providers.upkeep());
                }
                let due = daemon.schedule.due(now);
                guarded!(guard, daemon.refresh(due));
                for location in daemon.schedule.expire_previous(now) {
                    daemon.publish(&location);
                }
                let changes = daemon.write_outputs_or_retry();
                daemon.note_changes(changes, child_running);
                let may_start = reloading.is_none() || daemon.supersedes_reload();
                if may_start && daemon.reload_at.is_some_and(|at| at <= Instant::now()) {
                    if reloading.take().is_some() {
                        tracing::info!("a new change supersedes the retried reload still being confirmed");
                    }
                    let group = guard.child.as_ref().map(ChildProcess::pid);
                    reloading = daemon.start_reload(group);
                }
            }
        }
        daemon.update_ready(guard.child.is_some());
    }
}

/// What became of work run under the [`Guard`].
enum Step<T> {
    Done(T),
    /// A stop signal arrived (and was forwarded): the work was dropped.
    Abandoned,
    /// The wrapper must exit with this code (the child exited, or a stop came before it started).
    Exit(u8),
}

/// Runs `work` under the guard, leaving the loop iteration when it is abandoned and the
/// function when the wrapper must exit.
macro_rules! guarded {
    ($guard:expr, $work:expr) => {
        match $guard.run($work).await {
            Step::Done(value) => value,
            Step::Abandoned => continue,
            Step::Exit(code) => return Ok(code),
        }
    };
}
use guarded;

/// What must stay responsive while the loop works: the child's exit and stop signals. A fetch
/// that hangs up to its timeout or a reload waiting for confirmation must not delay forwarding
/// SIGTERM, nor hide a crashed child.
struct Guard {
    /// `run` (a child is or will be started) rather than `watch`.
    wraps_a_child: bool,
    child: Option<ChildProcess>,
    signals: StopSignals,
    stopper: Stopper,
}

impl Guard {
    async fn run<T>(&mut self, work: impl std::future::Future<Output = T>) -> Step<T> {
        tokio::pin!(work);
        tokio::select! {
            value = &mut work => Step::Done(value),
            outcome = wait_child(&mut self.child) => {
                tracing::info!(code = outcome.exit_code(), "the target exited");
                Step::Exit(outcome.exit_code())
            }
            signal = self.signals.next() => match self.on_stop_signal(signal) {
                Some(code) => Step::Exit(code),
                None => Step::Abandoned,
            },
        }
    }

    /// Forwards a stop signal to the child; without a child yet, the wrapper exits 128+N, and
    /// `watch`, which has no child, stops cleanly (0).
    fn on_stop_signal(&mut self, signal: rustix::process::Signal) -> Option<u8> {
        match &self.child {
            Some(child) => {
                let action = self.stopper.on_signal(signal, child);
                tracing::info!(signal = %supervise::signal_name(signal), "stop signal: {action}");
                None
            }
            None if !self.wraps_a_child => {
                tracing::info!(signal = %supervise::signal_name(signal), "stopping");
                Some(0)
            }
            None => {
                tracing::info!(signal = %supervise::signal_name(signal), "stopping before the target started");
                Some(128 + u8::try_from(signal.as_raw()).unwrap_or(0))
            }
        }
    }

    /// While stopping: the child's exit code once it exits; more signals and the stop timeout
    /// escalate.
    async fn wait_stopping(&mut self) -> Option<u8> {
        tokio::select! {
            outcome = wait_child(&mut self.child) => {
                tracing::info!(code = outcome.exit_code(), "the target exited");
                Some(outcome.exit_code())
            }
            signal = self.signals.next() => self.on_stop_signal(signal),
            () = sleep_until_opt(self.stopper.deadline()) => {
                if let Some(child) = &self.child {
                    let action: StopAction = self.stopper.on_deadline(child);
                    tracing::warn!("the target did not stop in time: {action}");
                }
                None
            }
        }
    }
}

/// What woke the wait for the first values, besides the next deadline.
enum BeforeStart {
    /// A watched config or stores file changed (re-read once it settles).
    ConfigChanged,
    /// SIGHUP: re-read the configuration now, changed or not.
    Reread,
    /// SIGUSR1 (every secret) or `POST /-/refresh` (one, or every): fetch now.
    Refresh(Option<String>),
    /// A store reports that this location's value may have changed: fetch it now.
    Changed(Location),
    /// A fetch a refresh stopped waiting for has answered, or its batch is done.
    Fetched(FetchEvent),
}

/// What a batch of fetches running beside the loop reports (see [`Daemon::spawn_fetches`]).
enum FetchEvent {
    /// One location's answer.
    Answer(Box<crate::provider::Timed>),
    /// Batch N has answered everything and done all it does beside the reads.
    BatchDone(u64),
}

/// A reload being sent and verified (see [`Daemon::start_reload`]).
type ReloadInFlight =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), supervise::SuperviseError>> + Send>>;

/// The reload in flight's end; never, when there is none.
async fn reload_done(in_flight: &mut Option<ReloadInFlight>) -> Result<(), supervise::SuperviseError> {
    match in_flight {
        Some(reload) => reload.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Aborts a spawned task when dropped (the admin listener lives as long as the loop).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What `secret-render run` found in the child's command line.
#[derive(Debug, PartialEq, Eq)]
pub struct ChildConfigs {
    /// `--config.file` and `--web.config.file` values, in order.
    pub configs: Vec<PathBuf>,
    /// The arguments with those values pointing into `out`.
    pub args: Vec<std::ffi::OsString>,
    /// `--web.listen-address`, if given.
    pub listen_address: Option<String>,
    /// `--web.config.file` (as given, not the rendered copy), if given.
    pub web_config: Option<PathBuf>,
    /// Where the target serves its endpoints: `--web.route-prefix`, else the path of
    /// `--web.external-url`, as Prometheus and Alertmanager decide it; `None` for `/`.
    pub route_prefix: Option<String>,
}

/// Finds `--config.file`/`--web.config.file` (as `--flag=value` or `--flag value`) in the child's
/// arguments and points them at the rendered copies in `out`.
pub fn rewrite_child_args(args: &[std::ffi::OsString], out: &Path) -> ChildConfigs {
    const RENDERED: [&str; 2] = ["--config.file", "--web.config.file"];
    const NOTED: [&str; 3] = ["--web.listen-address", "--web.route-prefix", "--web.external-url"];
    let mut configs = Vec::new();
    let mut web_config = None;
    let mut rewritten = Vec::with_capacity(args.len());
    let mut noted: HashMap<&str, String> = HashMap::new();
    let rendered = |value: &str| {
        let name = Path::new(value).file_name().map(ToOwned::to_owned).unwrap_or_default();
        out.join(name)
    };
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        // `--flag=value`, or `--flag value` (`separate`).
        let found = RENDERED.iter().chain(&NOTED).find_map(|&flag| match text.strip_prefix(flag) {
            Some(rest) if rest.starts_with('=') => Some((flag, rest[1..].to_owned(), false)),
            Some("") => iter.peek().map(|value| (flag, value.to_string_lossy().into_owned(), true)),
            _ => None,
        });
        match found {
            Some((flag, value, separate)) if RENDERED.contains(&flag) => {
                if separate {
                    iter.next();
                    rewritten.push(arg.clone());
                    rewritten.push(rendered(&value).into_os_string());
                } else {
                    rewritten.push(format!("{flag}={}", rendered(&value).display()).into());
                }
                if flag == "--web.config.file" {
                    web_config = Some(PathBuf::from(&value));
                }
                configs.push(PathBuf::from(value));
            }
            Some((flag, value, _)) => {
                noted.insert(flag, value);
                rewritten.push(arg.clone());
            }
            None => rewritten.push(arg.clone()),
        }
    }
    let route_prefix = noted
        .get("--web.route-prefix")
        .cloned()
        .or_else(|| {
            let url = reqwest::Url::parse(noted.get("--web.external-url")?).ok()?;
            Some(url.path().to_owned())
        })
        .map(|prefix| prefix.trim_matches('/').to_owned())
        .filter(|prefix| !prefix.is_empty())
        .map(|prefix| format!("/{prefix}"));
    ChildConfigs {
        configs,
        args: rewritten,
        listen_address: noted.remove("--web.listen-address"),
        web_config,
        route_prefix,
    }
}

/// Whether the target's web config (the exporter toolkit's: Prometheus, Alertmanager) asks for
/// TLS or basic auth, which the reload check's plain, unauthenticated GET of `/metrics` cannot
/// pass. An unreadable or invalid file says no: the render reports it.
#[must_use]
pub fn web_config_guards_metrics(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let Ok(document) = crate::tree::load(&text) else { return false };
    ["tls_server_config", "basic_auth_users"]
        .iter()
        // An empty mapping asks for nothing: no users, no certificate (the toolkit serves plain
        // HTTP without one).
        .any(|key| {
            document
                .root
                .get(key)
                .is_some_and(|node| node.as_mapping().map_or(!node.is_null(), |entries| !entries.is_empty()))
        })
}

/// The metrics URL of a target listening on `address` (`0.0.0.0:9090`, `:9093`, `[::]:9090`)
/// under `route_prefix` (`/prometheus`, or `None` for `/`).
#[must_use]
pub fn metrics_url(address: &str, route_prefix: Option<&str>) -> String {
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "9090"));
    let host = match host.trim_matches(['[', ']']) {
        "" | "0.0.0.0" | "::" => "127.0.0.1".to_owned(),
        other if other.contains(':') => format!("[{other}]"),
        other => other.to_owned(),
    };
    format!("http://{host}:{port}{}/metrics", route_prefix.unwrap_or_default())
}

/// Detects the target and version from `PROGRAM --version` (`prometheus, version 2.42.0 (…)`).
pub async fn detect_target(program: &std::ffi::OsStr) -> Option<TargetSpec> {
    // In its own process group, killed whole if it outlives the timeout: a program that ignores
    // `--version` and runs on (as a shell wrapper may) must not stay behind.
    let child = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut group = supervise::GroupKiller::led_by(child.id());
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await.ok()?.ok()?;
    group.finished();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    parse_version_banner(&text)
}

fn parse_version_banner(text: &str) -> Option<TargetSpec> {
    let line = text.lines().find(|line| line.contains(", version "))?;
    let (name, rest) = line.split_once(", version ")?;
    let version = rest.split_whitespace().next()?.parse().ok();
    let kind = match name.trim() {
        "prometheus" => render::TargetKind::Prometheus,
        "alertmanager" => render::TargetKind::Alertmanager,
        _ => return None,
    };
    Some(TargetSpec { kind, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_flags_are_found_in_both_forms_and_pointed_at_the_rendered_copies() {
        let args: Vec<std::ffi::OsString> = [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--web.listen-address",
            "127.0.0.1:9999",
            "--web.config.file",
            "web.yml",
            "--storage.tsdb.path=/data",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let found = rewrite_child_args(&args, Path::new("/run/sr"));
        assert_eq!(found.configs, [PathBuf::from("/etc/prometheus/prometheus.yml"), PathBuf::from("web.yml")]);
        let rewritten: Vec<String> = found.args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        assert_eq!(
            rewritten,
            [
                "--config.file=/run/sr/prometheus.yml",
                "--web.listen-address",
                "127.0.0.1:9999",
                "--web.config.file",
                "/run/sr/web.yml",
                "--storage.tsdb.path=/data"
            ]
        );
        assert_eq!(found.listen_address.as_deref(), Some("127.0.0.1:9999"));
        assert_eq!(found.web_config, Some(PathBuf::from("web.yml")));
        assert_eq!(found.route_prefix, None);
    }

    #[test]
    fn the_route_prefix_is_given_or_the_external_urls_path() {
        let prefix = |args: &[&str]| {
            let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
            rewrite_child_args(&args, Path::new("/run/sr")).route_prefix
        };
        assert_eq!(prefix(&["--config.file=p.yml"]), None);
        assert_eq!(prefix(&["--web.route-prefix=/prometheus/"]), Some("/prometheus".to_owned()));
        assert_eq!(prefix(&["--web.route-prefix", "prom"]), Some("/prom".to_owned()));
        assert_eq!(
            prefix(&["--web.external-url=https://example.com/monitoring/prometheus"]),
            Some("/monitoring/prometheus".to_owned())
        );
        assert_eq!(prefix(&["--web.external-url=https://example.com/"]), None);
        assert_eq!(
            prefix(&["--web.external-url=https://example.com/ext", "--web.route-prefix=/"]),
            None,
            "an explicit route prefix wins over the external URL's path"
        );
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_web_config_with_tls_or_basic_auth_guards_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("basic_auth_users:\n  admin: {file: {path: admin.bcrypt}}\n", true),
            ("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n", true),
            ("http_server_config:\n  http2: false\n", false),
            ("basic_auth_users:\n", false),
            ("basic_auth_users: {}\n", false),
            ("tls_server_config: {}\nbasic_auth_users: {}\n", false),
            ("not: [valid", false),
        ];
        for (text, guards) in cases {
            let path = dir.path().join("web.yml");
            std::fs::write(&path, text).unwrap();
            assert_eq!(web_config_guards_metrics(&path), guards, "{text}");
        }
        assert!(!web_config_guards_metrics(&dir.path().join("missing.yml")));
    }

    #[test]
    fn metrics_urls_point_at_loopback_for_wildcard_addresses() {
        let cases = [
            ("0.0.0.0:9090", "http://127.0.0.1:9090/metrics"),
            (":9093", "http://127.0.0.1:9093/metrics"),
            ("[::]:9090", "http://127.0.0.1:9090/metrics"),
            ("127.0.0.1:19090", "http://127.0.0.1:19090/metrics"),
            ("[::1]:9090", "http://[::1]:9090/metrics"),
        ];
        for (address, url) in cases {
            assert_eq!(metrics_url(address, None), url, "{address}");
        }
        assert_eq!(metrics_url(":9090", Some("/prometheus")), "http://127.0.0.1:9090/prometheus/metrics");
    }

    #[test]
    fn version_banners_name_the_target() {
        let prometheus = "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5)\n  build user: x";
        assert_eq!(
            parse_version_banner(prometheus),
            Some(TargetSpec { kind: render::TargetKind::Prometheus, version: Some(render::Version(2, 42, 0)) })
        );
        let alertmanager = "alertmanager, version 0.25.0+ds (branch: debian/sid)";
        assert_eq!(parse_version_banner(alertmanager).map(|spec| spec.kind), Some(render::TargetKind::Alertmanager));
        assert_eq!(parse_version_banner("node_exporter, version 1.5.0"), None);
    }
}
