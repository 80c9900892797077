//! The `file` provider, the embedded default: a whole file's bytes, or one `key` of a JSON or YAML
//! file. Relative paths resolve against the directory of the config that names them. Reading
//! follows symlinks on purpose: Kubernetes mounts Secrets and ConfigMaps through them. Only a
//! regular file of at most [`MAX_FILE_BYTES`] is read: a FIFO, a device or a huge file named by
//! mistake would hang the render or exhaust its memory.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use zeroize::Zeroizing;

use super::{Body, Fetched, Location, ParseContext, Provider, ProviderError, ProviderKind};
use crate::secret::Secret;
use crate::tree::{self, NodeKind};

mod watch;

pub const KEYS: &[&str] = &["path", "key"];

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileLocation {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// Read as a JSON/YAML document whose fields bodies pick with `key`.
    pub structured: bool,
}

pub(super) fn parse(body: &mut Body<'_>, context: &ParseContext<'_>) -> Option<(Location, Option<String>)> {
    let path = body.required("path");
    let key = body.string("key");
    let path = PathBuf::from(path?);
    let path = if path.is_absolute() { path } else { context.config_dir.join(path) };
    let structured = key.is_some();
    Some((Location::File(FileLocation { path, structured }), key))
}

/// Reads files; with roots (`--file-root`), only files whose real path (symlinks and `..`
/// resolved) lies under one of them. Under `run`/`watch` the files are watched for changes.
#[derive(Default)]
pub struct FileProvider {
    roots: Vec<PathBuf>,
    watch: Mutex<Option<watch::SourceWatch>>,
}

impl FileProvider {
    #[must_use]
    pub fn rooted(roots: Vec<PathBuf>) -> Self {
        Self { roots, watch: Mutex::default() }
    }

    fn check_root(&self, path: &std::path::Path, what: &str) -> Result<(), ProviderError> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let denied = |reason: String| ProviderError::PermissionDenied { what: what.to_owned(), reason };
        let real = std::fs::canonicalize(path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.to_owned() },
            _ => denied(error.to_string()),
        })?;
        if self.inside_roots(&real) { Ok(()) } else { Err(denied(OUTSIDE_ROOTS.into())) }
    }

    fn inside_roots(&self, real: &Path) -> bool {
        self.roots.iter().any(|root| std::fs::canonicalize(root).is_ok_and(|root| real.starts_with(root)))
    }

    /// Reads the file at `path`, checked against the roots twice: by its path first (so that
    /// nothing outside them is even opened), then by what was opened, whose real path the kernel
    /// keeps (`/proc/self/fd`): a symlink on the way swapped between the two (a file inside the
    /// roots exchanged for a link leading out) is caught, not read.
    fn read_within_roots(&self, path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        self.check_root(path, what)?;
        read_regular_file_checked(path, |file| self.check_opened(file)).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ProviderError::NotFound { what: what.to_owned() },
            std::io::ErrorKind::PermissionDenied => {
                ProviderError::PermissionDenied { what: what.to_owned(), reason: error.to_string() }
            }
            _ => ProviderError::Invalid { what: what.to_owned(), reason: error.to_string() },
        })
    }

    /// Whether the file opened lies under the roots, by the real path the kernel keeps for it.
    fn check_opened(&self, file: &std::fs::File) -> std::io::Result<()> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(file);
        let real = std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|error| {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("cannot tell where the file opened lies, to check --file-root (is /proc mounted?): {error}"),
            )
        })?;
        if self.inside_roots(&real) {
            Ok(())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, OUTSIDE_ROOTS))
        }
    }
}

/// Why a file under `--file-root` is not read.
const OUTSIDE_ROOTS: &str = "it resolves outside every --file-root";

impl Provider for FileProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::File
    }

    fn fetch<'a>(&'a self, location: &'a Location) -> BoxFuture<'a, Result<Fetched, ProviderError>> {
        Box::pin(async move {
            let file: &FileLocation = location.own();
            let what = location.to_string();
            let bytes = self.read_within_roots(&file.path, &what)?;
            if !file.structured {
                return Ok(Fetched::value(Secret::new(bytes.to_vec())));
            }
            parse_fields(&bytes).map(Fetched::fields).map_err(|reason| ProviderError::Invalid { what, reason })
        })
    }

    /// Watches the files (in the directory of every entry on the way to each: see
    /// [`crate::path_watch`]), so that a change is refetched once its events settle rather than
    /// at the refresh interval.
    /// The watch taken over from the client before a config reload carries on with the new
    /// sources, so that a change it saw and had not yet reported is not lost with it.
    fn watch(&self, locations: Vec<Location>, changed: tokio::sync::mpsc::UnboundedSender<Location>) -> bool {
        let mut watch = self.watch.lock().expect("not poisoned");
        if let Some(taken_over) = watch.as_ref() {
            return taken_over.watch_instead(&locations);
        }
        *watch = watch::SourceWatch::start(&locations, changed);
        watch.is_some()
    }

    /// The sources' watch, to carry on under the client built when the configs are read again.
    fn hand_over(&self) -> Option<Box<dyn std::any::Any + Send>> {
        let watch = self.watch.lock().expect("not poisoned").take()?;
        Some(Box::new(watch))
    }

    fn take_over(&self, state: Box<dyn std::any::Any + Send>) {
        if let Ok(watch) = state.downcast::<watch::SourceWatch>() {
            *self.watch.lock().expect("not poisoned") = Some(*watch);
        }
    }

    /// Replaces the whole file, or with `key` one field of a JSON object file (the others kept as
    /// written); a file keeps no versions. A document with several fields is not replaced
    /// whole, as a Vault secret with several keys is not: the others would be lost.
    fn put<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
        value: &'a Secret,
    ) -> BoxFuture<'a, Result<super::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let file: &FileLocation = location.own();
            let what = location.to_string();
            let existing = self.existing(file, &what)?;
            let contents = match (key, existing) {
                (Some(key), existing) => {
                    let text = value.expose_str().ok_or_else(|| ProviderError::WriteRefused {
                        what: what.clone(),
                        reason: "a field of a JSON file holds text, and the value is not UTF-8".into(),
                    })?;
                    let document = existing.as_ref().map(|bytes| self.json_document(bytes, &what)).transpose()?;
                    super::json_object::set_field(document, key, text).map_err(|reason| {
                        super::json_object::not_an_object(what.clone(), "a JSON object file", &reason)
                    })?
                }
                (None, Some(existing)) => {
                    if let Ok(fields) = parse_fields(&existing)
                        && fields.len() > 1
                    {
                        return Err(ProviderError::KeyRequired { what, available: fields.into_keys().collect() });
                    }
                    Zeroizing::new(value.expose().to_vec())
                }
                (None, None) => Zeroizing::new(value.expose().to_vec()),
            };
            self.replace(file, &what, &contents)?;
            Ok(super::PutOutcome::default())
        })
    }

    /// Removes `key` from a JSON object file (the others kept as written); a whole file is not
    /// deleted.
    fn delete<'a>(
        &'a self,
        location: &'a Location,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<super::PutOutcome, ProviderError>> {
        Box::pin(async move {
            let file: &FileLocation = location.own();
            let what = location.to_string();
            let Some(key) = key else {
                return Err(ProviderError::WriteRefused {
                    what,
                    reason: "secret-render deletes one `key` of a JSON file, not whole files: remove the file yourself"
                        .into(),
                });
            };
            let existing = self.existing(file, &what)?.ok_or_else(|| ProviderError::NotFound { what: what.clone() })?;
            let document = self.json_document(&existing, &what)?;
            let contents = super::json_object::remove_field(document, key)
                .map_err(|error| error.for_store(what.clone(), key, "a JSON object file"))?;
            self.replace(file, &what, &contents)?;
            Ok(super::PutOutcome::default())
        })
    }
}

impl FileProvider {
    /// The file's current contents before a write (`None`: not there yet), after checking that
    /// it (or, not created yet, its directory) lies under the roots.
    fn existing(&self, file: &FileLocation, what: &str) -> Result<Option<Zeroizing<Vec<u8>>>, ProviderError> {
        match file.path.parent().filter(|_| !file.path.exists()) {
            Some(dir) => self.check_root(dir, what)?,
            None => self.check_root(&file.path, what)?,
        }
        match read_regular_file_checked(&file.path, |opened| self.check_opened(opened)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(write_error(error, what)),
        }
    }

    /// `bytes` as the JSON object whose one field a write changes; a YAML file is not rewritten
    /// (its comments and layout would be lost).
    fn json_document<'b>(&self, bytes: &'b [u8], what: &str) -> Result<&'b [u8], ProviderError> {
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        if text.trim_start().starts_with('{') {
            return Ok(bytes);
        }
        Err(ProviderError::WriteRefused {
            what: what.to_owned(),
            reason: "writing one `key` needs a JSON object file; edit a YAML file yourself".into(),
        })
    }

    /// Replaces the file, in a directory checked against the roots as opened (see
    /// [`FileProvider::check_opened`]) and written through as held.
    fn replace(&self, file: &FileLocation, what: &str, contents: &[u8]) -> Result<(), ProviderError> {
        let check = |dir: &std::fs::File| self.check_opened(dir);
        let check_dir: Option<&crate::output::DirCheck<'_>> = if self.roots.is_empty() { None } else { Some(&check) };
        crate::output::replace_file_in_place_checked(&file.path, contents, check_dir)
            .map_err(|error| write_error(error, what))
    }
}

/// A write's I/O failure, as the operator acts on it.
fn write_error(error: std::io::Error, what: &str) -> ProviderError {
    let what = what.to_owned();
    match error.kind() {
        std::io::ErrorKind::PermissionDenied => ProviderError::PermissionDenied { what, reason: error.to_string() },
        _ => ProviderError::WriteRefused { what, reason: error.to_string() },
    }
}

/// The largest file read as a secret: 1 MiB, the most a Kubernetes Secret may hold. Anything
/// bigger named as a secret is a mistake (a log, an image), and reading it whole would cost its
/// size in memory, and again in every copy rendered.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads the regular file at `path` (symlinks followed), of at most [`MAX_FILE_BYTES`], for any
/// secret or credential file an operator names. The open cannot block (`O_NONBLOCK`: a FIFO
/// without a writer would hold it forever) and what was opened is checked before a byte is
/// read: anything but a regular file (FIFO, device, socket, directory) and a larger file are
/// errors whose message (`it is not a regular file (a FIFO)`) names no value, to follow the
/// path in the caller's message. At most one byte past the limit is read, so a file growing
/// meanwhile cannot exceed it either.
pub(crate) fn read_regular_file(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    read_regular_file_checked(path, |_| Ok(()))
}

/// [`read_regular_file`], with `check` asked about the file opened before a byte is read (and
/// its error returned instead): what the path led to at the open, which no later swap of a
/// symlink on the way can change.
pub(crate) fn read_regular_file_checked(
    path: &Path,
    check: impl FnOnce(&std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        // A Unix socket cannot be opened at all (ENXIO): say what it is instead.
        Err(errno) => {
            return Err(match std::fs::metadata(path) {
                Ok(metadata) if !metadata.is_file() => not_regular(&metadata.file_type()),
                _ => errno.into(),
            });
        }
    };
    check(&file)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular(&metadata.file_type()));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // Room for the whole file up front: growing the buffer would leave unzeroized copies behind.
    let capacity = usize::try_from(metadata.len()).map_or(0, |len| len + 1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

pub(crate) fn not_regular(kind: &std::fs::FileType) -> std::io::Error {
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "an unknown kind of file"
    };
    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is not a regular file ({what})"))
}

fn too_large() -> std::io::Error {
    let limit = MAX_FILE_BYTES / (1024 * 1024);
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!("it is larger than {limit} MiB, the most a secret may be"),
    )
}

/// Reads a JSON object or a YAML mapping into its top-level fields. Nested values are kept as
/// compact JSON / YAML text; scalars as their text.
pub fn parse_fields(bytes: &[u8]) -> Result<BTreeMap<String, Secret>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    if text.trim_start().starts_with('{') {
        return super::json_object::fields(bytes);
    }
    let document = tree::load(text).map_err(|error| format!("not a JSON object or YAML mapping ({error})"))?;
    let NodeKind::Mapping(entries) = document.root.kind else {
        return Err(format!("the document is {}, not a mapping", document.root.shape()));
    };
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let key = entry.key.as_scalar()?.to_owned();
            let value = match entry.value.kind {
                NodeKind::Scalar { text, .. } => Secret::from_text(text),
                _ => tree::emit(&entry.value).fill(&[]),
            };
            Some((key, value))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread exchanging two entries (`renameat2(RENAME_EXCHANGE)`, atomic) until stopped.
    struct Exchanger {
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: std::thread::JoinHandle<u64>,
    }

    impl Exchanger {
        fn start(a: PathBuf, b: PathBuf) -> Self {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stopped = std::sync::Arc::clone(&stop);
            let thread = std::thread::spawn(move || {
                let mut swaps = 0_u64;
                while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    let flags = rustix::fs::RenameFlags::EXCHANGE;
                    rustix::fs::renameat_with(rustix::fs::CWD, &a, rustix::fs::CWD, &b, flags).unwrap();
                    swaps += 1;
                }
                swaps
            });
            Self { stop, thread }
        }

        /// Stops it; returns how many exchanges it made.
        fn stop(self) -> u64 {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            self.thread.join().unwrap()
        }
    }

    /// `--file-root` holds against a path swapped as it is read: a thread exchanges a file in
    /// the root with a symlink leading out (`renameat2(RENAME_EXCHANGE)`, atomic) while the
    /// provider reads it. Checked by path alone and then opened by path again, 26 renders of 300
    /// read the outside file (the security audit); what was opened is now checked too.
    #[tokio::test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    async fn a_symlink_swapped_in_while_reading_never_leads_out_of_the_roots() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("pw"), "inside-fake").unwrap();
        std::fs::write(outside.join("pw"), "outside-fake").unwrap();
        std::os::unix::fs::symlink(outside.join("pw"), root.join("link")).unwrap();
        let provider = FileProvider::rooted(vec![root.clone()]);
        let location = Location::File(FileLocation { path: root.join("pw"), structured: false });

        let swapper = Exchanger::start(root.join("pw"), root.join("link"));
        let (mut inside, mut refused) = (0, 0);
        for _ in 0..3000 {
            match provider.fetch(&location).await {
                Ok(fetched) => {
                    let value = fetched.select(None, &location).unwrap();
                    assert_eq!(value.expose(), b"inside-fake", "a read led out of the root");
                    inside += 1;
                }
                Err(error) => {
                    assert!(matches!(error, ProviderError::PermissionDenied { .. }), "{error}");
                    refused += 1;
                }
            }
        }
        let swaps = swapper.stop();
        assert!(
            swaps > 0 && inside > 0 && refused > 0,
            "the race ran: {swaps} swaps, {inside} read, {refused} refused"
        );
    }

    /// `--file-root` holds for writes too (`rotate`, `store put`): a thread exchanges a directory
    /// in the root with a symlink leading out while values are written into it. The path was
    /// checked, then written by path, so a write could land outside; the directory is now
    /// checked as opened and written through as held.
    #[tokio::test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    async fn a_symlink_swapped_in_while_writing_never_leads_out_of_the_roots() {
        let base = std::path::Path::new("/dev/shm");
        let dir = if base.is_dir() { tempfile::tempdir_in(base) } else { tempfile::tempdir() }.unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("d/pw"), "inside-fake").unwrap();
        std::fs::write(outside.join("pw"), "outside-fake").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let provider = FileProvider::rooted(vec![root.clone()]);
        let location = Location::File(FileLocation { path: root.join("d/pw"), structured: false });

        let swapper = Exchanger::start(root.join("d"), root.join("link"));
        let value = Secret::from_text("written-fake".into());
        let (mut written, mut refused) = (0, 0);
        for _ in 0..400 {
            match provider.put(&location, None, &value).await {
                Ok(_) => written += 1,
                Err(_) => refused += 1,
            }
            assert_eq!(std::fs::read(outside.join("pw")).unwrap(), b"outside-fake", "a write led out of the root");
        }
        let swaps = swapper.stop();
        assert!(
            swaps > 0 && written > 0 && refused > 0,
            "the race ran: {swaps} swaps, {written} written, {refused} refused"
        );
    }

    /// A config reload builds a new client, which takes the sources' watch over: a change the old
    /// watch saw and had not yet reported (it waits for the writes to settle) is still reported,
    /// where it used to be dropped with the old client, leaving the value stale until its
    /// refresh interval.
    #[tokio::test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    async fn a_change_seen_before_a_config_reload_is_reported_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        std::fs::write(&first, "one-fake").unwrap();
        std::fs::write(&second, "two-fake").unwrap();
        let location =
            |path: &std::path::Path| Location::File(FileLocation { path: path.to_owned(), structured: false });
        let (changed, mut reported) = tokio::sync::mpsc::unbounded_channel();
        let before = FileProvider::default();
        assert!(before.watch(vec![location(&first)], changed.clone()));

        std::fs::write(&first, "one-changed-fake").unwrap();
        let after = FileProvider::default();
        after.take_over(before.hand_over().expect("the watch is handed over"));
        drop(before);
        assert!(after.watch(vec![location(&first), location(&second)], changed));
        let deadline = std::time::Duration::from_secs(10);
        let first_report = tokio::time::timeout(deadline, reported.recv()).await;
        assert_eq!(first_report.ok().flatten(), Some(location(&first)), "the change seen before the reload");

        std::fs::write(&second, "two-changed-fake").unwrap();
        let second_report = tokio::time::timeout(deadline, reported.recv()).await;
        assert_eq!(second_report.ok().flatten(), Some(location(&second)), "a source the new config added");
    }

    #[test]
    fn reads_fields_of_json_and_yaml_documents() {
        let cases: [(&str, &[(&str, &str)]); 3] = [
            (
                r#"{"password": "p", "port": 5432, "nested": {"a": 1}}"#,
                &[("nested", r#"{"a":1}"#), ("password", "p"), ("port", "5432")],
            ),
            ("password: p\nuser: 'u'\n", &[("password", "p"), ("user", "u")]),
            ("token: |\n  multi\n  line\n", &[("token", "multi\nline\n")]),
        ];
        for (text, expected) in cases {
            let fields = parse_fields(text.as_bytes()).unwrap();
            let got: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.expose_str().unwrap())).collect();
            assert_eq!(got, expected, "{text}");
        }
    }

    /// Only a regular file up to the limit is read, through symlinks; the rest is refused
    /// before a byte is read, and a FIFO without a writer does not block the open.
    #[test]
    #[expect(clippy::disallowed_methods, reason = "test fixtures, not secret-render outputs")]
    fn reads_only_regular_files_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let limit = usize::try_from(MAX_FILE_BYTES).unwrap();
        let write = |name: &str, size: usize| {
            std::fs::write(dir.path().join(name), vec![b'x'; size]).unwrap();
        };
        write("small", 5);
        write("limit", limit);
        write("over", limit + 1);
        std::os::unix::fs::symlink("small", dir.path().join("link")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(dir.path().join("fifo")).status().unwrap();
        assert!(made.success(), "mkfifo");
        let cases: [(&str, Result<usize, &str>); 8] = [
            ("small", Ok(5)),
            ("link", Ok(5)),
            ("limit", Ok(limit)),
            ("over", Err("it is larger than 1 MiB, the most a secret may be")),
            ("fifo", Err("it is not a regular file (a FIFO)")),
            (".", Err("it is not a regular file (a directory)")),
            ("/dev/null", Err("it is not a regular file (a character device)")),
            ("missing", Err("No such file or directory (os error 2)")),
        ];
        for (name, expected) in cases {
            let got = read_regular_file(&dir.path().join(name));
            let got = got.as_ref().map(|bytes| bytes.len()).map_err(ToString::to_string);
            assert_eq!(got, expected.map_err(str::to_owned), "{name}");
        }
    }

    #[test]
    fn refuses_documents_without_fields() {
        for text in ["[1, 2]", "just text", "{broken json", "\u{0}\u{159}"] {
            assert!(parse_fields(text.as_bytes()).is_err(), "{text:?}");
        }
    }
}
