//! Under `run`/`watch`: the `file` provider's sources watched ([`crate::path_watch`]), so that a
//! file edited, replaced or rotated is refetched at once instead of at its refresh interval, and
//! one still being written is read once its writer closes it. The watch outlives a config reload
//! (the new client takes it over), so a change made while the configs are read again is not lost.

use std::path::PathBuf;

use tokio::sync::mpsc::UnboundedSender;

use super::FileLocation;
use crate::path_watch::{Release, SettledWatch};
use crate::provider::{Location, OwnLocation as _};

/// The watch of one `file` client's sources; it ends when dropped.
pub(super) struct SourceWatch {
    watch: SettledWatch<Location>,
}

/// Each source's path, with its location.
fn sources(locations: &[Location]) -> Vec<(PathBuf, Location)> {
    locations.iter().filter_map(|location| Some((FileLocation::of(location)?.path.clone(), location.clone()))).collect()
}

impl SourceWatch {
    /// Starts watching `locations`, sending each on `changed` once a change to it has settled
    /// (changes reported together are sent together, for the loop to refetch in one batch).
    /// `None` when inotify cannot be used or no source's directory can be watched: the loop then
    /// relies on the refresh interval, as it says.
    pub(super) fn start(locations: &[Location], changed: UnboundedSender<Location>) -> Option<Self> {
        let watch = SettledWatch::start(sources(locations), Release::Each, move |settled: Vec<Location>| {
            settled.into_iter().all(|location| changed.send(location).is_ok())
        });
        let watch = watch
            .map_err(|error| {
                tracing::warn!(%error, "cannot watch the `file` sources; they are read again on their refresh interval only");
            })
            .ok()?;
        (watch.watched() > 0).then_some(Self { watch })
    }

    /// Watches `locations` from now on, instead of the sources watched so far (a config reload);
    /// `false` when none of their directories can be watched.
    pub(super) fn watch_instead(&self, locations: &[Location]) -> bool {
        self.watch.set_items(sources(locations));
        self.watch.watched() > 0
    }
}
