//! Under `run`/`watch`: the `file` provider's sources watched ([`crate::path_watch`]), so that a
//! file edited, replaced or rotated is refetched at once instead of at its refresh interval.

use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::FileLocation;
use crate::path_watch::PathWatch;
use crate::provider::{Location, OwnLocation as _};

/// How long a change's events are gathered before the files are read again: a writer that
/// truncates and then writes, or a symlink swap followed by the old directory's removal, makes
/// several, and the first is seldom the last.
const SETTLE: Duration = Duration::from_millis(200);
/// The longest a steady stream of events holds a refetch back.
const SETTLE_AT_MOST: Duration = Duration::from_secs(1);

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
        let watch = PathWatch::start(sources.collect(), move |location: &Location| {
            let _ = events.send(location.clone());
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

/// Gathers changed sources until their events settle, resolves the sources again (a swapped
/// symlink may now lead elsewhere), then sends each changed one for the loop to refetch.
async fn settle(
    mut events: UnboundedReceiver<Location>,
    changed: UnboundedSender<Location>,
    mut watch: PathWatch<Location>,
) {
    while let Some(first) = events.recv().await {
        let mut pending = vec![first];
        let latest = Instant::now() + SETTLE_AT_MOST;
        loop {
            let quiet = (Instant::now() + SETTLE).min(latest);
            match tokio::time::timeout_at(quiet, events.recv()).await {
                Ok(Some(location)) => pending.push(location),
                Ok(None) => return,
                Err(_elapsed) => break,
            }
        }
        watch.rewatch();
        pending.sort();
        pending.dedup();
        for location in pending {
            if changed.send(location).is_err() {
                return;
            }
        }
    }
}
