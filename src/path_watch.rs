//! Watching paths for changes to what they lead to, through inotify. A path is watched in the
//! directory of every entry met resolving it — each directory on the way, each symlink, and the
//! entry it ends at (or the first one missing, so that one created later is seen): editors
//! replace files, Kubernetes swaps a volume's `..data` symlink, deploy tools swap directories,
//! configuration management retargets links and edits their targets in place, and each shows in
//! one of those directories. A change may lead a path elsewhere, so its owner resolves the paths
//! again after one ([`PathWatch::rewatch`]). [`SettledWatch`] reports a change once its events
//! settle and its writer has closed the file: a file written to and not yet closed (`cmd > file`
//! truncates at once and writes when `cmd` is done) is read whole, not half-written. Used for
//! the configs and the stores file under `run`/`watch`, and for the `file` provider's sources.
//!
//! Through the `inotify` crate rather than `notify`, whose inotify backend asks every watched
//! directory for opens and unwritten closes too, with no way to ask for less: with `/` and
//! `/etc` on the way to a config, every process's read of `/etc/hosts` woke the watch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask, Watches};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

/// Symlinks followed resolving one path, as the kernel allows before `ELOOP`.
const MAX_SYMLINKS: usize = 40;

/// How long a change's events are gathered before it is reported: a writer that truncates and
/// then writes, an editor's save, or a symlink swap followed by the old directory's removal,
/// makes several, and the first is seldom the last.
const SETTLE: Duration = Duration::from_millis(200);
/// The longest a steady stream of events holds a report back.
const SETTLE_AT_MOST: Duration = Duration::from_secs(1);
/// The longest a file written to and not closed is waited for: a writer that keeps it open
/// (appending, or hung) must not hide its changes for good.
const OPEN_WRITE_AT_MOST: Duration = Duration::from_secs(30);

/// For each watched directory, the names in it whose change can change a watched path, and the
/// items of the paths each would change.
type Index<T> = HashMap<PathBuf, HashMap<OsString, Vec<T>>>;

/// What an event says happened to a watched entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Created, removed, renamed, its metadata changed, or events were lost: read it again.
    Changed,
    /// Written to by a writer that may still hold it open (`cmd > file` truncates first and
    /// writes later): what it holds now may be half of what is coming.
    Writing,
    /// A writer closed it: what it holds now is what was written.
    Closed,
}

/// What the reader of events reads to tell which items an event concerns.
struct Watched<T> {
    index: Index<T>,
    /// Every item, for when events were lost.
    all: Vec<T>,
    /// The directory each watch is of.
    dirs: HashMap<WatchDescriptor, PathBuf>,
}

/// The events a watched directory reports: changes to its entries, never reads.
fn watch_mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::CLOSE_WRITE
        | WatchMask::MODIFY
        | WatchMask::ATTRIB
        | WatchMask::ONLYDIR
}

/// Paths watched for as long as this lives, each with an item telling its owner which it is.
pub struct PathWatch<T> {
    items: Vec<(PathBuf, T)>,
    watched_by_reader: Arc<Mutex<Watched<T>>>,
    watches: Watches,
    /// The watch of each directory watched.
    descriptors: HashMap<PathBuf, WatchDescriptor>,
    /// Reads the events, on the runtime, until dropped.
    reader: tokio::task::JoinHandle<()>,
    /// How many directories the last [`PathWatch::rewatch`] watched.
    watched: usize,
    /// The directories that could not be watched, each warned about once.
    unwatchable: HashSet<PathBuf>,
}

impl<T> Drop for PathWatch<T> {
    fn drop(&mut self) {
        // The reader holds the inotify descriptor: it closes with the task.
        self.reader.abort();
    }
}

impl<T: Clone + Send + 'static> PathWatch<T> {
    /// Watches the paths of `items`. `changed` is called, on the runtime, with the item of each
    /// path an event may have changed and what happened, and with every item when events were
    /// lost. Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// When inotify cannot be used (its instance limit reached).
    pub fn start(items: Vec<(PathBuf, T)>, changed: impl Fn(&T, Activity) + Send + 'static) -> std::io::Result<Self> {
        let watched_by_reader =
            Arc::new(Mutex::new(Watched { index: Index::new(), all: Vec::new(), dirs: HashMap::new() }));
        let events = Inotify::init()?.into_event_stream([0; 4096])?;
        let watches = events.watches();
        let reader = tokio::spawn(read_events(events, Arc::clone(&watched_by_reader), changed));
        let mut watch = Self {
            items: Vec::new(),
            watched_by_reader,
            watches,
            descriptors: HashMap::new(),
            reader,
            watched: 0,
            unwatchable: HashSet::new(),
        };
        watch.set_items(items);
        Ok(watch)
    }

    /// Watches the paths of `items` from now on instead of those watched so far.
    pub fn set_items(&mut self, items: Vec<(PathBuf, T)>) {
        self.watched_by_reader.lock().expect("not poisoned").all = items.iter().map(|(_, item)| item.clone()).collect();
        self.items = items;
        self.rewatch();
    }

    /// How many directories are watched: none when no path's could be.
    pub fn watched(&self) -> usize {
        self.watched
    }

    /// Resolves every path again and watches the directories it now depends on (and no longer
    /// those it did before). A directory that cannot be watched (not readable by this user, or
    /// the inotify watch limit reached) is warned about, naming the paths it leaves unwatched.
    pub fn rewatch(&mut self) {
        let mut index = Index::new();
        for (path, item) in &self.items {
            for (dir, name) in entries_of(path) {
                index.entry(dir).or_default().entry(name).or_default().push(item.clone());
            }
        }
        let dirs: HashSet<PathBuf> = index.keys().cloned().collect();
        let mut watched_by_reader = self.watched_by_reader.lock().expect("not poisoned");
        watched_by_reader.index = index;
        let gone: Vec<PathBuf> = self.descriptors.keys().filter(|dir| !dirs.contains(*dir)).cloned().collect();
        for dir in gone {
            if let Some(descriptor) = self.descriptors.remove(&dir) {
                // Usually already gone with the directory (a Kubernetes timestamped one removed).
                let _ = self.watches.remove(descriptor.clone());
                watched_by_reader.dirs.remove(&descriptor);
            }
        }
        let mut watched = 0;
        for dir in &dirs {
            // Added again each time: a directory replaced at the path is a new one to watch (a
            // new descriptor), the one there before no longer on the way.
            match self.watches.add(dir, watch_mask()) {
                Ok(descriptor) => {
                    watched += 1;
                    if let Some(before) = self.descriptors.insert(dir.clone(), descriptor.clone())
                        && before != descriptor
                    {
                        let _ = self.watches.remove(before.clone());
                        watched_by_reader.dirs.remove(&before);
                    }
                    watched_by_reader.dirs.insert(descriptor, dir.clone());
                }
                Err(error) => {
                    if self.unwatchable.insert(dir.clone()) {
                        let paths: Vec<String> = self
                            .items
                            .iter()
                            .filter(|(path, _)| std::path::absolute(path).is_ok_and(|path| path.starts_with(dir)))
                            .map(|(path, _)| path.display().to_string())
                            .collect();
                        tracing::warn!(
                            dir = %dir.display(),
                            %error,
                            "cannot watch a directory: changes under it are seen at the next refresh only ({})",
                            if paths.is_empty() { "a symlink on the way to a watched path".to_owned() } else { paths.join(", ") }
                        );
                    }
                }
            }
        }
        self.watched = watched;
    }
}

/// A [`PathWatch`] that reports changed items in batches, once their events have settled and
/// every writer that wrote to them has closed them (each waited for at most
/// [`OPEN_WRITE_AT_MOST`]), resolving the paths again before each report. Its paths can be
/// replaced ([`SettledWatch::set_items`]) without losing a change still settling. It ends when
/// dropped.
pub struct SettledWatch<T> {
    watch: Arc<Mutex<PathWatch<T>>>,
    settler: tokio::task::JoinHandle<()>,
}

impl<T> Drop for SettledWatch<T> {
    fn drop(&mut self) {
        // The settler shares the watch: once it ends too, the inotify watches end.
        self.settler.abort();
    }
}

/// When a [`SettledWatch`] reports changed items while another is still being written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Each once its own writers have closed it: items read one by one (`file` sources).
    Each,
    /// None while any is still open: items read together, where one half-written spoils the
    /// reading of all (the configs and the stores file).
    Together,
}

impl<T: Clone + Ord + Send + 'static> SettledWatch<T> {
    /// Watches the paths of `items` and calls `report` on the runtime with the items of each
    /// settled change, released as `release` says, until it returns `false` (its receiver is
    /// gone). Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// When inotify cannot be used (its instance limit reached).
    pub fn start(
        items: Vec<(PathBuf, T)>,
        release: Release,
        report: impl FnMut(Vec<T>) -> bool + Send + 'static,
    ) -> std::io::Result<Self> {
        let (events, settling) = unbounded_channel();
        let watch = PathWatch::start(items, move |item: &T, activity| {
            let _ = events.send((item.clone(), activity));
        })?;
        let watch = Arc::new(Mutex::new(watch));
        let settler = tokio::spawn(settle(settling, release, report, Arc::clone(&watch)));
        Ok(Self { watch, settler })
    }

    /// How many directories are watched: none when no path's could be.
    pub fn watched(&self) -> usize {
        self.watch.lock().expect("not poisoned").watched()
    }

    /// Resolves the paths again and watches what they lead to now.
    pub fn rewatch(&self) {
        self.watch.lock().expect("not poisoned").rewatch();
    }

    /// Watches the paths of `items` from now on; a change to the old ones still settling is
    /// reported all the same.
    pub fn set_items(&self, items: Vec<(PathBuf, T)>) {
        self.watch.lock().expect("not poisoned").set_items(items);
    }
}

/// The items with news, each with whether a write to it is still open.
type Pending<T> = BTreeMap<T, bool>;

fn note<T: Ord>(pending: &mut Pending<T>, (item, activity): (T, Activity)) {
    let open = pending.entry(item).or_insert(false);
    match activity {
        Activity::Writing => *open = true,
        Activity::Closed => *open = false,
        Activity::Changed => {}
    }
}

/// Gathers changed items until their events settle, resolves the paths again (a swapped symlink
/// may now lead elsewhere), then reports the changed ones in one batch; one written to and not
/// yet closed waits for its close (at most [`OPEN_WRITE_AT_MOST`]).
async fn settle<T: Clone + Ord + Send + 'static>(
    mut events: UnboundedReceiver<(T, Activity)>,
    release: Release,
    mut report: impl FnMut(Vec<T>) -> bool,
    watch: Arc<Mutex<PathWatch<T>>>,
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
                        paths = pending.len(),
                        "written to and not closed for 30 s: reading them as they are"
                    );
                    open_since = None;
                    if !report(std::mem::take(&mut pending).into_keys().collect()) {
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
        watch.lock().expect("not poisoned").rewatch();
        let ready: Vec<T> = if release == Release::Together && pending.values().any(|open| *open) {
            Vec::new()
        } else {
            let ready = pending.iter().filter(|(_, open)| !**open).map(|(item, _)| item.clone()).collect();
            pending.retain(|_, open| *open);
            ready
        };
        open_since = if pending.is_empty() { None } else { open_since.or(Some(Instant::now())) };
        if !ready.is_empty() && !report(ready) {
            return;
        }
    }
}

/// Hands each event's items to `changed` until the stream ends (its task is aborted, or
/// reading inotify fails, which is logged: changes are then seen at the next refresh).
async fn read_events<T>(
    mut events: EventStream<[u8; 4096]>,
    watched: Arc<Mutex<Watched<T>>>,
    changed: impl Fn(&T, Activity),
) {
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "cannot read inotify events: changes are seen at the next refresh only");
                return;
            }
        };
        let Some(activity) = activity(event.mask) else { continue };
        let watched = watched.lock().expect("not poisoned");
        let overflow = event.mask.contains(EventMask::Q_OVERFLOW);
        let entry = watched.dirs.get(&event.wd).map(PathBuf::as_path).zip(event.name.as_deref());
        for item in affected(&watched.index, &watched.all, entry, overflow) {
            changed(item, activity);
        }
    }
}

/// What an event's `mask` says happened, if anything: a writer's close, a write that may still
/// be open, or a change of any other kind (created, removed, renamed, metadata, or events
/// lost). Reads are not asked for; a watch removed says nothing.
fn activity(mask: EventMask) -> Option<Activity> {
    if mask.contains(EventMask::Q_OVERFLOW) {
        Some(Activity::Changed)
    } else if mask.contains(EventMask::CLOSE_WRITE) {
        Some(Activity::Closed)
    } else if mask.contains(EventMask::MODIFY) {
        Some(Activity::Writing)
    } else if mask.intersects(
        EventMask::CREATE | EventMask::DELETE | EventMask::MOVED_FROM | EventMask::MOVED_TO | EventMask::ATTRIB,
    ) {
        Some(Activity::Changed)
    } else {
        None
    }
}

/// The items an event may have changed: those of the entry it names (`dir`, `name`), or every
/// one when events were lost.
fn affected<'a, T>(index: &'a Index<T>, all: &'a [T], entry: Option<(&Path, &OsStr)>, overflow: bool) -> Vec<&'a T> {
    if overflow {
        return all.iter().collect();
    }
    entry.and_then(|(dir, name)| index.get(dir)?.get(name)).into_iter().flatten().collect()
}

/// The directory entries whose change can change what `path` reads, as (directory, name): each
/// directory and symlink met resolving it, and the entry it ends at, or the first one missing.
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
            Ok(metadata) if metadata.is_dir() && !rest.is_empty() => {
                // A directory on the way may be renamed away and another put in its place.
                entries.push((dir, name));
                dir = entry;
            }
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

    /// The entries of `path` inside `top`, after checking that those above it are `top`'s own
    /// directories, each in its parent (a directory on the way may be swapped).
    fn inside(top: &Path, path: &Path) -> Vec<(PathBuf, OsString)> {
        let entries = entries_of(path);
        let above: Vec<_> = top
            .ancestors()
            .collect::<Vec<_>>()
            .windows(2)
            .rev()
            .map(|pair| (pair[1].to_path_buf(), pair[0].file_name().unwrap().to_owned()))
            .collect();
        assert_eq!(
            entries[..above.len()],
            above[..],
            "{} does not depend on {}'s directories",
            path.display(),
            top.display()
        );
        entries[above.len()..].to_vec()
    }

    /// A Kubernetes Secret volume: `password -> ..data/password`, `..data -> ..<timestamp>`, and
    /// an item in a subdirectory, `db -> ..data/db`. A change shows as the `..data` swap, or in
    /// the timestamped directory.
    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_kubernetes_secret_volume_source_depends_on_its_symlinks_and_the_file_they_lead_to() {
        let volume = tempfile::tempdir().unwrap();
        let volume = std::fs::canonicalize(volume.path()).unwrap();
        let stamp = "..2024_01_01_00_00_00.000000001";
        let stamped = volume.join(stamp);
        std::fs::create_dir_all(stamped.join("db")).unwrap();
        symlink(stamp, volume.join("..data")).unwrap();
        symlink("..data/password", volume.join("password")).unwrap();
        symlink("..data/db", volume.join("db")).unwrap();

        assert_eq!(
            inside(&volume, &volume.join("password")),
            [entry(&volume, "password"), entry(&volume, "..data"), entry(&volume, stamp), entry(&stamped, "password")],
            "the file need not exist yet: its name is watched where it would appear"
        );
        assert_eq!(
            inside(&volume, &volume.join("db/password")),
            [
                entry(&volume, "db"),
                entry(&volume, "..data"),
                entry(&volume, stamp),
                entry(&stamped, "db"),
                entry(&stamped.join("db"), "password")
            ]
        );
    }

    /// What an event says: a change, a write that may still be open, or a writer's close; a
    /// removed watch (and reads, never asked for) say nothing.
    #[test]
    fn events_say_changed_writing_closed_or_nothing() {
        let cases = [
            (EventMask::MOVED_TO, Some(Activity::Changed)),
            (EventMask::CREATE, Some(Activity::Changed)),
            (EventMask::DELETE | EventMask::ISDIR, Some(Activity::Changed)),
            (EventMask::ATTRIB, Some(Activity::Changed)),
            (EventMask::MODIFY, Some(Activity::Writing)),
            (EventMask::CLOSE_WRITE, Some(Activity::Closed)),
            (EventMask::Q_OVERFLOW, Some(Activity::Changed)),
            (EventMask::IGNORED, None),
            (EventMask::CLOSE_NOWRITE, None),
            (EventMask::OPEN, None),
        ];
        for (mask, expected) in cases {
            assert_eq!(activity(mask), expected, "{mask:?}");
        }
    }

    /// A read of a file in a watched directory (`/etc/hosts`, when a config lies under `/etc`)
    /// makes no event: opens and unwritten closes are not asked for.
    #[test]
    fn reads_are_not_asked_for() {
        assert!(!watch_mask().intersects(WatchMask::OPEN | WatchMask::CLOSE_NOWRITE | WatchMask::ACCESS));
    }

    /// An event affects the paths of the names it touches; a lost event queue affects every one.
    #[test]
    fn events_affect_the_paths_of_the_names_they_touch() {
        let (pw, token) = ("/etc/secret/pw", "/etc/secret/token");
        let mut index = Index::new();
        index.entry(PathBuf::from("/etc/secret")).or_default().insert(OsString::from("pw"), vec![pw]);
        index.entry(PathBuf::from("/etc/secret")).or_default().insert(OsString::from("..data"), vec![pw, token]);
        let all = [pw, token];
        let secret = Path::new("/etc/secret");
        let cases = [
            (Some((secret, OsStr::new("pw"))), false, vec![&pw]),
            (Some((secret, OsStr::new("..data"))), false, vec![&pw, &token]),
            (Some((secret, OsStr::new("other"))), false, vec![]),
            (Some((Path::new("/etc/other"), OsStr::new("pw"))), false, vec![]),
            (None, false, vec![]),
            (None, true, vec![&pw, &token]),
        ];
        for (entry, overflow, expected) in cases {
            assert_eq!(affected(&index, &all, entry, overflow), expected, "{entry:?} {overflow}");
        }
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn a_plain_path_depends_on_its_directories_its_own_entry_and_a_missing_one_on_the_first_missing() {
        let dir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let sub = dir.join("sub");
        assert_eq!(
            inside(&dir, &dir.join("sub/../sub/pw")),
            [entry(&dir, "sub"), entry(&dir, "sub"), entry(&sub, "pw")]
        );
        assert_eq!(inside(&dir, &dir.join("later/pw")), [entry(&dir, "later")]);
        symlink(&sub, dir.join("absolute")).unwrap();
        let through_link = inside(&dir, &dir.join("absolute/pw"));
        assert_eq!(through_link.first(), Some(&entry(&dir, "absolute")));
        assert_eq!(through_link.last(), Some(&entry(&sub, "pw")), "the link restarts from `/`: {through_link:?}");
        symlink("loop", dir.join("loop")).unwrap();
        assert_eq!(inside(&dir, &dir.join("loop")).len(), MAX_SYMLINKS + 1, "a symlink loop ends");
    }
}
