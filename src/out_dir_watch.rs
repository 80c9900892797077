//! Noticing at once when someone else removes, moves away or rewrites what `run`/`watch` wrote
//! in the out dir — a secret file, a rendered config, `secrets/` or the out dir itself (an
//! operator's `rm`, a cleanup job) — so the loop writes it again before the target next reads
//! it, instead of at the next refresh, which may be hours away.
//!
//! The two directories the [`OutputDir`] holds open are watched through their descriptors
//! (`/proc/self/fd/N`), so a directory put at the path later is not mistaken for them, and only
//! for removals, renames and closes after writing: a target reading its secret files on every
//! request makes no event, and an idle daemon stays asleep. Which events matter is the loop's
//! to decide: its own writes (temporary files renamed into place) make events too.

use std::ffi::OsStr;
use std::path::PathBuf;

use futures_util::StreamExt as _;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask};

use crate::output::{OutputDir, SECRETS_DIR, descriptor_path};

/// What an event says may have happened in the out dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutDirEvent {
    /// An entry (relative to the out dir: a config's name, or `secrets/<name>`) was removed,
    /// renamed away or over, or written and closed.
    Entry(PathBuf),
    /// The out dir or `secrets/` was removed or moved, or events were lost: anything may have.
    Dirs,
}

/// The out dir's two directories, watched for as long as this lives.
pub struct OutDirWatch {
    events: EventStream<[u8; 4096]>,
    dir: WatchDescriptor,
}

impl OutDirWatch {
    /// Watches the directories `out` holds open.
    ///
    /// # Errors
    /// When inotify cannot be used (its instance or watch limit reached, no `/proc`).
    pub fn start(out: &OutputDir) -> std::io::Result<Self> {
        let inotify = Inotify::init()?;
        let mask = WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::CLOSE_WRITE
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::ONLYDIR;
        let (dir, secrets) = out.held_dirs();
        let mut watches = inotify.watches();
        let dir = watches.add(descriptor_path(dir), mask)?;
        watches.add(descriptor_path(secrets), mask)?;
        Ok(Self { events: inotify.into_event_stream([0; 4096])?, dir })
    }

    /// The next event; `None` once the watch cannot go on (reading inotify failed).
    pub async fn next(&mut self) -> Option<OutDirEvent> {
        let event = self.events.next().await?.ok()?;
        let whole = EventMask::Q_OVERFLOW | EventMask::DELETE_SELF | EventMask::MOVE_SELF | EventMask::IGNORED;
        Some(match event.name {
            Some(name) if !event.mask.intersects(whole) => entry(&self.dir, &event.wd, &name),
            _ => OutDirEvent::Dirs,
        })
    }
}

/// An event naming `name` in the directory `watch` watches (`dir`: the out dir). `secrets/`
/// itself removed or renamed shows only here: its own `IN_DELETE_SELF` waits until its last
/// descriptor, ours, is closed.
fn entry(dir: &WatchDescriptor, watch: &WatchDescriptor, name: &OsStr) -> OutDirEvent {
    if watch != dir {
        OutDirEvent::Entry(PathBuf::from(SECRETS_DIR).join(name))
    } else if name == SECRETS_DIR {
        OutDirEvent::Dirs
    } else {
        OutDirEvent::Entry(PathBuf::from(name))
    }
}

/// The next event of `watch`, or never without one.
pub async fn next_event(watch: &mut Option<OutDirWatch>) -> Option<OutDirEvent> {
    match watch {
        Some(watch) => watch.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{FileMode, OutputOptions, TmpfsPolicy};

    fn options() -> OutputOptions {
        OutputOptions { file_mode: FileMode::default(), tmpfs: TmpfsPolicy::Ignore }
    }

    /// Events until `last` arrives, with a bound: a missing event fails rather than hangs.
    async fn events_until(watch: &mut OutDirWatch, last: &OutDirEvent) -> Vec<OutDirEvent> {
        let mut seen = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Some(event) = watch.next().await {
                let done = event == *last;
                seen.push(event);
                if done {
                    break;
                }
            }
        })
        .await
        .expect("the event arrives");
        seen
    }

    #[tokio::test]
    async fn removals_and_rewrites_in_either_directory_name_the_entry_relative_to_the_out_dir() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(&dir.path().join("out"), &options()).unwrap();
        out.write_secret("pw", b"fake").unwrap();
        out.write_config("prometheus.yml", b"x: 1\n").unwrap();
        let mut watch = OutDirWatch::start(&out).unwrap();

        std::fs::remove_file(out.secret_path("pw")).unwrap();
        let secret = OutDirEvent::Entry(PathBuf::from("secrets/pw"));
        assert!(events_until(&mut watch, &secret).await.contains(&secret));

        #[expect(clippy::disallowed_methods, reason = "another process's in-place write, as the test's fixture")]
        std::fs::write(dir.path().join("out/prometheus.yml"), "y: 2\n").unwrap();
        let config = OutDirEvent::Entry(PathBuf::from("prometheus.yml"));
        assert!(events_until(&mut watch, &config).await.contains(&config));
    }

    #[tokio::test]
    async fn reading_a_file_makes_no_event() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(&dir.path().join("out"), &options()).unwrap();
        out.write_secret("pw", b"fake").unwrap();
        let mut watch = OutDirWatch::start(&out).unwrap();

        for _ in 0..3 {
            assert_eq!(std::fs::read(out.secret_path("pw")).unwrap(), b"fake");
        }
        // Then an event that must come: if reads made events, they would come first.
        std::fs::remove_file(out.secret_path("pw")).unwrap();
        let removed = OutDirEvent::Entry(PathBuf::from("secrets/pw"));
        assert_eq!(events_until(&mut watch, &removed).await, vec![removed]);
    }

    #[tokio::test]
    #[expect(clippy::disallowed_methods, reason = "an operator's `mv`, as the test's fixture")]
    async fn the_out_dir_moved_away_or_its_secrets_dir_removed_is_an_event_for_both() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(&dir.path().join("out"), &options()).unwrap();
        let mut watch = OutDirWatch::start(&out).unwrap();

        std::fs::rename(dir.path().join("out"), dir.path().join("elsewhere")).unwrap();
        assert_eq!(events_until(&mut watch, &OutDirEvent::Dirs).await, vec![OutDirEvent::Dirs]);

        std::fs::remove_dir(dir.path().join("elsewhere/secrets")).unwrap();
        assert_eq!(events_until(&mut watch, &OutDirEvent::Dirs).await, vec![OutDirEvent::Dirs]);
    }
}
