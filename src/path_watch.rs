//! Watching paths for changes to what they lead to, through inotify. A path is watched in the
//! directory of every symlink met resolving it and of the entry it ends at (or of the first
//! entry missing, so that one created later is seen): editors replace files, Kubernetes swaps a
//! volume's `..data` symlink, configuration management retargets links and edits their targets
//! in place, and each shows in one of those directories. A change may lead a path elsewhere, so
//! its owner resolves the paths again after one ([`PathWatch::rewatch`]). Used for the configs
//! and the stores file under `run`/`watch`, and for the `file` provider's sources.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::Watcher as _;

/// Symlinks followed resolving one path, as the kernel allows before `ELOOP`.
const MAX_SYMLINKS: usize = 40;

/// For each watched directory, the names in it whose change can change a watched path, and the
/// items of the paths each would change.
type Index<T> = HashMap<PathBuf, HashMap<OsString, Vec<T>>>;

/// Paths watched for as long as this lives, each with an item telling its owner which it is.
pub struct PathWatch<T> {
    items: Vec<(PathBuf, T)>,
    index: Arc<Mutex<Index<T>>>,
    watcher: notify::RecommendedWatcher,
    /// How many directories the last [`PathWatch::rewatch`] watched.
    watched: usize,
}

impl<T: Clone + Send + 'static> PathWatch<T> {
    /// Watches the paths of `items`. `changed` is called, on the watcher's own thread, with the
    /// item of each path an event may have changed, and with every item when events were lost.
    ///
    /// # Errors
    /// When inotify cannot be used (its instance limit reached).
    pub fn start(items: Vec<(PathBuf, T)>, changed: impl Fn(&T) + Send + 'static) -> notify::Result<Self> {
        let index = Arc::new(Mutex::new(Index::new()));
        let all: Vec<T> = items.iter().map(|(_, item)| item.clone()).collect();
        let watcher = notify::recommended_watcher({
            let index = Arc::clone(&index);
            move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                for item in affected(&index.lock().expect("not poisoned"), &all, &event) {
                    changed(item);
                }
            }
        })?;
        let mut watch = Self { items, index, watcher, watched: 0 };
        watch.rewatch();
        Ok(watch)
    }

    /// How many directories are watched: none when no path's could be.
    pub fn watched(&self) -> usize {
        self.watched
    }

    /// Resolves every path again and watches the directories it now depends on (and no longer
    /// those it did before).
    pub fn rewatch(&mut self) {
        let mut index = Index::new();
        for (path, item) in &self.items {
            for (dir, name) in entries_of(path) {
                index.entry(dir).or_default().entry(name).or_default().push(item.clone());
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
        self.watched = dirs
            .iter()
            .filter(|dir| match self.watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => true,
                Err(error) => {
                    tracing::debug!(dir = %dir.display(), %error, "cannot watch a directory");
                    false
                }
            })
            .count();
    }
}

/// The items an inotify event may have changed. Reads (access events, which reading a watched
/// file ourselves raises) change nothing, or each read would wake the watch for the next; a
/// lost event queue may hide any change.
fn affected<'a, T>(index: &'a Index<T>, all: &'a [T], event: &'a notify::Event) -> Vec<&'a T> {
    use notify::EventKind;
    if event.need_rescan() {
        return all.iter().collect();
    }
    if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any) {
        return Vec::new();
    }
    event.paths.iter().filter_map(|path| index.get(path.parent()?)?.get(path.file_name()?)).flatten().collect()
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

    /// Changes to a watched name affect its paths' items; reading a watched file affects
    /// nothing; a lost event queue affects every item.
    #[test]
    fn changes_to_watched_names_affect_their_paths_and_reads_affect_none() {
        use notify::event::{AccessKind, CreateKind, Event, EventKind, Flag, ModifyKind, RenameMode};
        let (pw, token) = ("/etc/secret/pw", "/etc/secret/token");
        let mut index = Index::new();
        index.entry(PathBuf::from("/etc/secret")).or_default().insert(OsString::from("pw"), vec![pw]);
        index.entry(PathBuf::from("/etc/secret")).or_default().insert(OsString::from("..data"), vec![pw, token]);
        let all = [pw, token];
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
