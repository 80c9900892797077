//! Under `run`/`watch`: the `file` provider's sources watched through inotify, so that a file
//! edited, replaced or rotated is refetched at once instead of at its refresh interval. A source
//! is watched wherever a change can alter what it reads: in the directory of every symlink met
//! resolving its path (Kubernetes updates a mounted Secret by swapping its `..data` symlink;
//! configuration management retargets links), and in the directory of the file it ends at (or
//! of the first entry missing, so that a file created later is seen).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::Watcher as _;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::FileLocation;
use crate::provider::{Location, OwnLocation as _};

/// How long a change's events are gathered before the files are read again: a writer that
/// truncates and then writes, or a symlink swap followed by the old directory's removal, makes
/// several, and the first is seldom the last.
const SETTLE: Duration = Duration::from_millis(200);
/// The longest a steady stream of events holds a refetch back.
const SETTLE_AT_MOST: Duration = Duration::from_secs(1);
/// Symlinks followed resolving one path, as the kernel allows before `ELOOP`.
const MAX_SYMLINKS: usize = 40;

/// For each watched directory, the names in it whose change can change a source, and the
/// sources each would change.
type Index = HashMap<PathBuf, HashMap<OsString, Vec<Location>>>;

/// The watch of one `file` client's sources; it ends when dropped.
pub(super) struct SourceWatch {
    settler: tokio::task::JoinHandle<()>,
}

impl Drop for SourceWatch {
    fn drop(&mut self) {
        // The settler holds the watcher: ending it ends the inotify watches too.
        self.settler.abort();
    }
}

impl SourceWatch {
    /// Starts watching `locations`, sending each on `changed` once a change to it has settled.
    /// `None` when inotify cannot be used or no source's directory can be watched: the loop then
    /// relies on the refresh interval, as it says.
    pub(super) fn start(locations: Vec<Location>, changed: UnboundedSender<Location>) -> Option<Self> {
        let locations: Arc<[Location]> = locations.into();
        let index = Arc::new(Mutex::new(Index::new()));
        let (events, settling) = unbounded_channel();
        let watcher = notify::recommended_watcher({
            let (index, locations) = (Arc::clone(&index), Arc::clone(&locations));
            move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                for location in affected(&index.lock().expect("not poisoned"), &locations, &event) {
                    let _ = events.send(location.clone());
                }
            }
        });
        let watcher = watcher
            .map_err(|error| {
                tracing::warn!(%error, "cannot watch the `file` sources; they are read again on their refresh interval only");
            })
            .ok()?;
        let mut sources = Sources { locations, index, watcher };
        if sources.rewatch() == 0 {
            return None;
        }
        Some(Self { settler: tokio::spawn(settle(settling, changed, sources)) })
    }
}

/// What a watch keeps: the sources, which entries each depends on, and the inotify watcher.
struct Sources {
    locations: Arc<[Location]>,
    index: Arc<Mutex<Index>>,
    watcher: notify::RecommendedWatcher,
}

impl Sources {
    /// Resolves every source's path again and watches the directories it now depends on (and no
    /// longer those it did before); returns how many directories are watched.
    fn rewatch(&mut self) -> usize {
        let mut index = Index::new();
        for location in self.locations.iter() {
            let Some(file) = FileLocation::of(location) else { continue };
            for (dir, name) in entries_of(&file.path) {
                index.entry(dir).or_default().entry(name).or_default().push(location.clone());
            }
        }
        let dirs: HashSet<PathBuf> = index.keys().cloned().collect();
        // Not held while watching: the watcher's own thread takes it to deliver an event, and
        // adding a watch waits for that thread.
        let before = std::mem::replace(&mut *self.index.lock().expect("not poisoned"), index);
        for gone in before.keys().filter(|dir| !dirs.contains(*dir)) {
            // Usually already gone with the directory (a Kubernetes timestamped one removed).
            let _ = self.watcher.unwatch(gone);
        }
        dirs.iter()
            .filter(|dir| match self.watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => true,
                Err(error) => {
                    tracing::debug!(dir = %dir.display(), %error, "cannot watch a `file` source's directory");
                    false
                }
            })
            .count()
    }
}

/// The sources an inotify event may have changed. Reads (access events, which reading a
/// source ourselves raises) change nothing; a lost event queue may hide any change.
fn affected<'a>(index: &'a Index, all: &'a [Location], event: &'a notify::Event) -> Vec<&'a Location> {
    use notify::EventKind;
    if event.need_rescan() {
        return all.iter().collect();
    }
    if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any) {
        return Vec::new();
    }
    event.paths.iter().filter_map(|path| index.get(path.parent()?)?.get(path.file_name()?)).flatten().collect()
}

/// Gathers changed sources until their events settle, resolves the sources again (a swapped
/// symlink may now lead elsewhere), then sends each changed one for the loop to refetch.
async fn settle(mut events: UnboundedReceiver<Location>, changed: UnboundedSender<Location>, mut sources: Sources) {
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
        sources.rewatch();
        pending.sort();
        pending.dedup();
        for location in pending {
            if changed.send(location).is_err() {
                return;
            }
        }
    }
}

/// The directory entries whose change can change what `path` reads, as (directory, name): each
/// symlink met resolving it, and the entry it ends at, or the first one missing.
fn entries_of(path: &Path) -> Vec<(PathBuf, OsString)> {
    let Ok(path) = std::path::absolute(path) else { return Vec::new() };
    let mut entries = Vec::new();
    let mut dir = PathBuf::from("/");
    let mut rest = Vec::new();
    push_components(&mut rest, &path);
    let mut symlinks = 0;
    while let Some(name) = rest.pop() {
        if name == OsStr::new("..") {
            dir.pop();
            continue;
        }
        let entry = dir.join(&name);
        match std::fs::symlink_metadata(&entry) {
            Ok(metadata) if metadata.file_type().is_symlink() && symlinks < MAX_SYMLINKS => {
                symlinks += 1;
                entries.push((dir.clone(), name));
                let Ok(target) = std::fs::read_link(&entry) else { break };
                if target.is_absolute() {
                    dir = PathBuf::from("/");
                }
                push_components(&mut rest, &target);
            }
            Ok(metadata) if metadata.is_dir() && !rest.is_empty() => dir = entry,
            _ => {
                entries.push((dir, name));
                break;
            }
        }
    }
    entries
}

/// Pushes `path`'s names onto `rest` so that the first pops first; `..` stays a name.
fn push_components(rest: &mut Vec<OsString>, path: &Path) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => rest.push(name.to_owned()),
            Component::ParentDir => rest.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn entry(dir: &Path, name: &str) -> (PathBuf, OsString) {
        (dir.to_path_buf(), OsString::from(name))
    }

    /// A Kubernetes Secret volume: `password -> ..data/password`, `..data -> ..<timestamp>`, and
    /// an item in a subdirectory, `db -> ..data/db`. A change shows as the `..data` swap, or in
    /// the timestamped directory.
    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_kubernetes_secret_volume_source_depends_on_its_symlinks_and_the_file_they_lead_to() {
        let volume = tempfile::tempdir().unwrap();
        let volume = std::fs::canonicalize(volume.path()).unwrap();
        let stamped = volume.join("..2024_01_01_00_00_00.000000001");
        std::fs::create_dir_all(stamped.join("db")).unwrap();
        symlink("..2024_01_01_00_00_00.000000001", volume.join("..data")).unwrap();
        symlink("..data/password", volume.join("password")).unwrap();
        symlink("..data/db", volume.join("db")).unwrap();

        assert_eq!(
            entries_of(&volume.join("password")),
            [entry(&volume, "password"), entry(&volume, "..data"), entry(&stamped, "password")],
            "the file need not exist yet: its name is watched where it would appear"
        );
        assert_eq!(
            entries_of(&volume.join("db/password")),
            [entry(&volume, "db"), entry(&volume, "..data"), entry(&stamped.join("db"), "password")]
        );
    }

    /// Changes to a watched name affect its sources; reading a source (which the fetch itself
    /// does) affects nothing, or each fetch would wake the watch for the next; a lost event
    /// queue affects every source.
    #[test]
    fn changes_to_watched_names_affect_their_sources_and_reads_affect_none() {
        use notify::event::{AccessKind, CreateKind, Event, EventKind, Flag, ModifyKind, RenameMode};
        let location = |path: &str| Location::File(FileLocation { path: PathBuf::from(path), structured: false });
        let (pw, token) = (location("/etc/secret/pw"), location("/etc/secret/token"));
        let mut index = Index::new();
        index.entry(PathBuf::from("/etc/secret")).or_default().insert(OsString::from("pw"), vec![pw.clone()]);
        index
            .entry(PathBuf::from("/etc/secret"))
            .or_default()
            .insert(OsString::from("..data"), vec![pw.clone(), token.clone()]);
        let all = [pw.clone(), token.clone()];
        let event = |kind, path: &str| Event::new(kind).add_path(PathBuf::from(path));

        let cases = [
            (event(EventKind::Modify(ModifyKind::Name(RenameMode::To)), "/etc/secret/pw"), vec![&pw]),
            (event(EventKind::Create(CreateKind::Any), "/etc/secret/..data"), vec![&pw, &token]),
            (event(EventKind::Modify(ModifyKind::Any), "/etc/secret/other"), vec![]),
            (event(EventKind::Modify(ModifyKind::Any), "/etc/other/pw"), vec![]),
            (event(EventKind::Access(AccessKind::Any), "/etc/secret/pw"), vec![]),
            (Event::new(EventKind::Other).set_flag(Flag::Rescan), vec![&pw, &token]),
        ];
        for (event, expected) in cases {
            assert_eq!(affected(&index, &all, &event), expected, "{event:?}");
        }
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_plain_path_depends_on_its_own_entry_and_a_missing_one_on_the_first_entry_missing() {
        let dir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert_eq!(entries_of(&dir.join("sub/../sub/pw")), [entry(&dir.join("sub"), "pw")]);
        assert_eq!(entries_of(&dir.join("later/pw")), [entry(&dir, "later")]);
        symlink(dir.join("sub"), dir.join("absolute")).unwrap();
        assert_eq!(entries_of(&dir.join("absolute/pw")), [entry(&dir, "absolute"), entry(&dir.join("sub"), "pw")]);
        symlink("loop", dir.join("loop")).unwrap();
        assert_eq!(entries_of(&dir.join("loop")).len(), MAX_SYMLINKS + 1, "a symlink loop ends");
    }
}
