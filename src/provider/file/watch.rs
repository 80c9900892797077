//! Under `run`/`watch`: the `file` provider's sources watched ([`crate::path_watch`]), so that a
//! file edited, replaced or rotated is refetched at once instead of at its refresh interval. A
//! file a writer still holds open after writing to it (`cmd > file` truncates at once and
//! writes when `cmd` is done) is read once it is closed, not half-written.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::FileLocation;
use crate::path_watch::{Activity, PathWatch};
use crate::provider::{Location, OwnLocation as _};

/// How long a change's events are gathered before the files are read again: a writer that
/// truncates and then writes, or a symlink swap followed by the old directory's removal, makes
/// several, and the first is seldom the last.
const SETTLE: Duration = Duration::from_millis(200);
/// The longest a steady stream of events holds a refetch back.
const SETTLE_AT_MOST: Duration = Duration::from_secs(1);
/// The longest a file written to and not closed is waited for: a writer that keeps it open
/// (appending, or hung) must not hide its changes for good.
const OPEN_WRITE_AT_MOST: Duration = Duration::from_secs(30);

/// The watch of one `file` client's sources; it ends when dropped.
pub(super) struct SourceWatch {
    settler: tokio::task::JoinHandle<()>,
}

impl Drop for SourceWatch {
    fn drop(&mut self) {
        // The settler holds the watch: ending it ends the inotify watches too.
        self.settler.abort();
    }
}

impl SourceWatch {
    /// Starts watching `locations`, sending each on `changed` once a change to it has settled.
    /// `None` when inotify cannot be used or no source's directory can be watched: the loop then
    /// relies on the refresh interval, as it says.
    pub(super) fn start(locations: Vec<Location>, changed: UnboundedSender<Location>) -> Option<Self> {
        let (events, settling) = unbounded_channel();
        let sources =
            locations.iter().filter_map(|location| Some((FileLocation::of(location)?.path.clone(), location.clone())));
        let watch = PathWatch::start(sources.collect(), move |location: &Location, activity| {
            let _ = events.send((location.clone(), activity));
        });
        let watch = watch
            .map_err(|error| {
                tracing::warn!(%error, "cannot watch the `file` sources; they are read again on their refresh interval only");
            })
            .ok()?;
        if watch.watched() == 0 {
            return None;
        }
        Some(Self { settler: tokio::spawn(settle(settling, changed, watch)) })
    }
}

/// The sources with news, each with whether a write to it is still open.
type Pending = BTreeMap<Location, bool>;

fn note(pending: &mut Pending, (location, activity): (Location, Activity)) {
    let open = pending.entry(location).or_insert(false);
    match activity {
        Activity::Writing => *open = true,
        Activity::Closed => *open = false,
        Activity::Changed => {}
    }
}

/// Gathers changed sources until their events settle, resolves the sources again (a swapped
/// symlink may now lead elsewhere), then sends the changed ones for the loop to refetch in one
/// batch; one written to and not yet closed waits for its close (at most
/// [`OPEN_WRITE_AT_MOST`]).
async fn settle(
    mut events: UnboundedReceiver<(Location, Activity)>,
    changed: UnboundedSender<Location>,
    mut watch: PathWatch<Location>,
) {
    let mut pending = Pending::new();
    let mut open_since: Option<Instant> = None;
    loop {
        let next = match open_since {
            None => events.recv().await,
            Some(since) => match tokio::time::timeout_at(since + OPEN_WRITE_AT_MOST, events.recv()).await {
                Ok(next) => next,
                Err(_elapsed) => {
                    tracing::debug!(
                        sources = pending.len(),
                        "written to and not closed for 30 s: reading them as they are"
                    );
                    let all: Vec<Location> = std::mem::take(&mut pending).into_keys().collect();
                    open_since = None;
                    if !send(&changed, all) {
                        return;
                    }
                    continue;
                }
            },
        };
        let Some(event) = next else { return };
        note(&mut pending, event);
        let latest = Instant::now() + SETTLE_AT_MOST;
        loop {
            let quiet = (Instant::now() + SETTLE).min(latest);
            match tokio::time::timeout_at(quiet, events.recv()).await {
                Ok(Some(event)) => note(&mut pending, event),
                Ok(None) => return,
                Err(_elapsed) => break,
            }
        }
        watch.rewatch();
        let ready: Vec<Location> =
            pending.iter().filter(|(_, open)| !**open).map(|(location, _)| location.clone()).collect();
        pending.retain(|_, open| *open);
        open_since = if pending.is_empty() { None } else { open_since.or(Some(Instant::now())) };
        if !send(&changed, ready) {
            return;
        }
    }
}

/// Sends `locations` for the loop to refetch; `false` once the loop is gone.
fn send(changed: &UnboundedSender<Location>, locations: Vec<Location>) -> bool {
    locations.into_iter().all(|location| changed.send(location).is_ok())
}
