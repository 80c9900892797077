//! The secure writer: every file under the output directory, and an operator's own file that
//! `rotate`, a `file` put or `extract --write` replaces (`replace_file_in_place`), goes through
//! here; `extract` writes its backup itself.
//!
//! This module owns the output directory (`--out DIR`) and its `secrets/` subdirectory: it
//! creates them 0700, refuses ones an attacker could have prepared (a symlink, another owner,
//! writable by group or others), and replaces files atomically so a reader never sees a partial
//! value or a file that was briefly too open. Both directories are held as file descriptors and
//! every operation is relative to them, so swapping a path component for a symlink after `open`
//! cannot redirect a write.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read as _, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{self as rfs, AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Gid, geteuid};

/// A set of file names, with a hash cheaper than SipHash: the names are our own.
type Names = HashSet<String, foldhash::fast::RandomState>;

/// Subdirectory of the output directory that holds one file per secret.
pub const SECRETS_DIR: &str = "secrets";

const DIR_MODE: u32 = 0o700;
const GROUP_OR_OTHER_WRITABLE: u32 = 0o022;
/// Only permission bits: setuid, setgid or sticky on a secret file are never intended.
const PERMISSION_BITS: u32 = 0o777;
const TMPFS_MAGIC: u32 = 0x0102_1994;
const RAMFS_MAGIC: u32 = 0x8584_58f6;
/// `O_EXCL` collisions only happen with a stale temp file of the same random name; a few retries
/// are plenty and bound the loop.
const TEMP_ATTEMPTS: u32 = 16;
/// The largest file [`OutputDir::read_held_secrets`] reads: secrets are far smaller, and a file
/// planted under a secret's name must not make the render allocate its size. A larger one is
/// simply rewritten.
const READ_AHEAD_MAX: usize = 1 << 20;
/// [`StagedSecrets::stage_all`] starts another thread only for at least this many more files:
/// below it, starting one costs more than it saves.
const FILES_PER_STAGING_THREAD: usize = 64;

/// Why the output could not be written. Messages name the path and never the contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("refusing to use `{path}`: it is a symbolic link")]
    Symlink { path: PathBuf },

    #[error("refusing to use `{path}`: it is not a directory")]
    NotADirectory { path: PathBuf },

    #[error("refusing to use `{path}`: owned by uid {owner}, not by the running uid {euid}")]
    NotOwned { path: PathBuf, owner: u32, euid: u32 },

    #[error("refusing to use `{path}`: writable by group or others (mode {mode:04o})")]
    Writable { path: PathBuf, mode: u32 },

    #[error("`{path}` is not on tmpfs or ramfs, and tmpfs is required")]
    NotTmpfs { path: PathBuf },

    #[error(
        "refusing to use `{path}`: the rendered copy of `{config}` would replace the config itself; \
         give --out a directory of its own"
    )]
    ReplacesConfig { path: PathBuf, config: PathBuf },

    #[error("invalid file mode {mode:04o} for files in `{path}`: only permission bits (0777) may be set")]
    InvalidMode { path: PathBuf, mode: u32 },

    #[error(
        "invalid file name {name:?} in `{dir}`: must be a single path component \
         (not empty, `.` or `..`, no `/` or NUL)"
    )]
    InvalidName { dir: PathBuf, name: String },

    // The OS error is part of the message, not a `source()`: exit.rs's `Failure` carries a
    // finished string, and "permission denied" is what the operator needs to see.
    #[error("failed to {action} `{path}`: {error}")]
    Io { action: &'static str, path: PathBuf, error: io::Error },
}

impl OutputError {
    /// Every output failure is exit code 5 (contract section 9).
    pub const EXIT_CODE: u8 = 5;

    fn io(action: &'static str, path: &Path, source: impl Into<io::Error>) -> Self {
        Self::Io { action, path: path.to_path_buf(), error: source.into() }
    }
}

/// Refuses an out dir where the rendered copy of one of `configs` (`DIR/<its file name>`) is
/// that config itself, or the link the operator named it by: `--out` naming the configs' own
/// directory would overwrite each source with its rendering, provider maps and all lost. Checked
/// before anything is fetched or created.
pub fn refuse_to_replace_configs(out: &Path, configs: &[PathBuf]) -> Result<(), OutputError> {
    use std::os::unix::fs::MetadataExt as _;
    let identity = |metadata: std::fs::Metadata| (metadata.dev(), metadata.ino());
    for config in configs {
        let Some(name) = config.file_name() else { continue };
        let Ok(rendered) = std::fs::symlink_metadata(out.join(name)).map(identity) else { continue };
        let named = std::fs::symlink_metadata(config).map(identity).ok();
        let real = std::fs::metadata(config).map(identity).ok();
        if named == Some(rendered) || real == Some(rendered) {
            return Err(OutputError::ReplacesConfig { path: out.to_path_buf(), config: config.clone() });
        }
    }
    Ok(())
}

/// Permissions of every file written (secrets and configs alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode {
    /// Permission bits; default 0o600.
    pub mode: u32,
    /// Group to hand the file to, for a target running as another user.
    pub group: Option<u32>,
}

impl FileMode {
    pub const DEFAULT_MODE: u32 = 0o600;
}

impl Default for FileMode {
    fn default() -> Self {
        Self { mode: Self::DEFAULT_MODE, group: None }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOptions {
    pub file_mode: FileMode,
    /// What to do when the output directory is not on tmpfs/ramfs.
    pub tmpfs: TmpfsPolicy,
}

/// `--require-tmpfs` makes a disk-backed out dir an error; `check`'s private directory of
/// placeholders needs no warning at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TmpfsPolicy {
    #[default]
    Warn,
    Require,
    Ignore,
}

/// A file's inode, change time, size and mode (see [`OutputDir::identity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    inode: u64,
    changed: (i64, u64),
    size: i64,
    mode: u32,
}

/// A checked, held-open output directory.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    /// Also holds the shared lock that tells a later writer this one may have temporary files
    /// in flight (see [`lock_and_sweep`]); it goes with the descriptor.
    dir: OwnedFd,
    secrets: OwnedFd,
    file_mode: FileMode,
    is_tmpfs: bool,
    /// The running uid, which owns every file written.
    euid: u32,
    /// Whether another process had the out dir open when this one opened it.
    shared: bool,
}

impl OutputDir {
    /// Create (mode 0700, parents as needed 0755) or open the out dir, and its
    /// `secrets/` subdirectory, refusing either when it is a symlink, owned by another user or
    /// writable by group or others.
    pub fn open(path: &Path, options: &OutputOptions) -> Result<Self, OutputError> {
        // Rebuilding from components drops trailing slashes: with one, the kernel follows a
        // final symlink despite O_NOFOLLOW.
        let path: PathBuf = path.components().collect();
        let file_mode = options.file_mode;
        if file_mode.mode & !PERMISSION_BITS != 0 {
            return Err(OutputError::InvalidMode { path, mode: file_mode.mode });
        }

        let dir = open_trusted_dir(CWD, &path, &path, true)?;
        let secrets_path = path.join(SECRETS_DIR);
        let secrets = open_trusted_dir(dir.as_fd(), Path::new(SECRETS_DIR), &secrets_path, false)?;
        if let Some(gid) = file_mode.group {
            for (fd, shown) in [(&dir, &path), (&secrets, &secrets_path)] {
                let_group_in(fd, gid, shown)?;
            }
        }

        let mut is_tmpfs = true;
        for (fd, shown) in [(&dir, &path), (&secrets, &secrets_path)] {
            if is_on_tmpfs(fd.as_fd(), shown)? {
                continue;
            }
            match options.tmpfs {
                TmpfsPolicy::Require => {
                    return Err(OutputError::NotTmpfs { path: shown.clone() });
                }
                TmpfsPolicy::Ignore => {
                    is_tmpfs = false;
                    break;
                }
                TmpfsPolicy::Warn => {}
            }
            tracing::warn!(
                path = %shown.display(),
                "output directory is not on tmpfs or ramfs: secrets may reach persistent storage",
            );
            is_tmpfs = false;
            // One warning is enough; `secrets/` nearly always shares the out dir's filesystem.
            break;
        }

        let shared = !lock_and_sweep(&dir, &[(&dir, &path), (&secrets, &secrets_path)], &path);
        Ok(Self { path, dir, secrets, file_mode, is_tmpfs, euid: geteuid().as_raw(), shared })
    }

    /// Whether the out dir or `secrets/` held open is no longer what the path leads to: removed
    /// (`rm -rf` by an operator or a cleanup job), or moved away, perhaps with another directory
    /// put in its place. Writes through it would land where the target no longer reads (or
    /// leave it reading someone else's files), so the caller opens the path again, which
    /// refuses a directory that is not the running user's.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        let identity = |stat: &rfs::Stat| (stat.st_dev, stat.st_ino);
        let held = |fd: &OwnedFd| rfs::fstat(fd).ok().filter(|stat| stat.st_nlink > 0).map(|stat| identity(&stat));
        let (Some(dir), Some(secrets)) = (held(&self.dir), held(&self.secrets)) else { return true };
        let at_path = rfs::lstat(&self.path).ok().map(|stat| identity(&stat));
        let in_dir =
            rfs::statat(&self.dir, SECRETS_DIR, rfs::AtFlags::SYMLINK_NOFOLLOW).ok().map(|stat| identity(&stat));
        at_path != Some(dir) || in_dir != Some(secrets)
    }

    /// Whether another writer had the out dir open when it was opened (a `render` or another
    /// `run`/`watch` into the same directory).
    #[must_use]
    pub fn opened_beside_another_writer(&self) -> bool {
        self.shared
    }

    /// Whether no other writer has the out dir open now: the exclusive lock is granted, and
    /// given back for the shared one at once.
    #[must_use]
    pub fn alone_now(&self) -> bool {
        let alone = rfs::flock(&self.dir, rfs::FlockOperation::NonBlockingLockExclusive).is_ok();
        // A failed conversion may have dropped the shared lock (flock(2)); it is taken again.
        let _ = rfs::flock(&self.dir, rfs::FlockOperation::LockShared);
        alone
    }

    /// The directories held open: the out dir and its `secrets/` (to watch them, not the path).
    #[must_use]
    pub fn held_dirs(&self) -> (BorrowedFd<'_>, BorrowedFd<'_>) {
        (self.dir.as_fd(), self.secrets.as_fd())
    }

    /// The out dir as given to [`OutputDir::open`], without trailing slashes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.path.join(SECRETS_DIR)
    }

    pub fn secret_path(&self, name: &str) -> PathBuf {
        self.secrets_dir().join(name)
    }

    pub fn file_mode(&self) -> FileMode {
        self.file_mode
    }

    /// Whether both the out dir and `secrets/` are on tmpfs or ramfs.
    pub fn is_tmpfs(&self) -> bool {
        self.is_tmpfs
    }

    /// Atomically replace `DIR/secrets/<name>` with `value`, byte for byte.
    pub fn write_secret(&self, name: &str, value: &[u8]) -> Result<PathBuf, OutputError> {
        self.replace(self.secrets.as_fd(), &self.secrets_dir(), name, value, true)
    }

    /// The current contents of `relative` (a rendered config's name, or `secrets/<name>`), read
    /// through the held directories without following a symlink; `None` when it is missing or
    /// not a regular file.
    pub fn read_existing(&self, relative: &Path) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let (dir, name) = self.locate(relative)?;
        let (fd, stat) = open_regular(dir, name)?;
        let mut contents = zeroize::Zeroizing::new(Vec::with_capacity(usize::try_from(stat.st_size).ok()?));
        File::from(fd).read_to_end(&mut contents).ok()?;
        Some(contents)
    }

    /// What identifies the file at `relative` now, without following a symlink: `None` when
    /// nothing is there. A write, a rename over it, a removal, a chmod or a chown changes it, so
    /// an unchanged identity means the file still holds what was last written or read.
    pub fn identity(&self, relative: &Path) -> Option<FileIdentity> {
        let (dir, name) = self.locate(relative)?;
        let stat = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        Some(FileIdentity {
            inode: stat.st_ino,
            changed: (stat.st_ctime, stat.st_ctime_nsec),
            size: stat.st_size,
            mode: stat.st_mode,
        })
    }

    /// The held directory and the name of `relative` (a rendered config's name, or
    /// `secrets/<name>`).
    fn locate<'a>(&self, relative: &'a Path) -> Option<(BorrowedFd<'_>, &'a str)> {
        let mut parts = relative.components().map(|part| part.as_os_str().to_str());
        let (dir, name) = match (parts.next()??, parts.next(), parts.next()) {
            (name, None, None) => (self.dir.as_fd(), name),
            (SECRETS_DIR, Some(Some(name)), None) => (self.secrets.as_fd(), name),
            _ => return None,
        };
        check_name(&self.path, name).ok()?;
        Some((dir, name))
    }

    /// Starts a set of secret files to be written now and moved into place later, together.
    pub fn stage_secrets(&self) -> StagedSecrets<'_> {
        let present = Present::Listed(self.secret_names());
        StagedSecrets { out: self, dir_path: self.secrets_dir(), present, staged: Vec::new() }
    }

    /// [`OutputDir::stage_secrets`], judging which files already hold their value by what
    /// was read ahead: a file not in `held` is written. A file changed since it was read ahead
    /// is left as it is when the read-ahead contents were already the value, as it would be
    /// when it changed just after a check.
    pub fn stage_secrets_over(&self, held: HeldSecrets) -> StagedSecrets<'_> {
        StagedSecrets { out: self, dir_path: self.secrets_dir(), present: Present::Read(held), staged: Vec::new() }
    }

    /// The names in `secrets/` now, read in one pass, so that staging looks for an unchanged
    /// file only where there is one: a lookup of a missing name costs about as much as a
    /// read of a present one. Empty when the directory cannot be listed.
    fn secret_names(&self) -> Names {
        let Ok(mut dir) = rfs::Dir::read_from(&self.secrets) else { return Names::default() };
        let mut names = Names::default();
        while let Some(Ok(entry)) = dir.read() {
            if let Ok(name) = entry.file_name().to_str() {
                names.insert(name.to_owned());
            }
        }
        names
    }

    /// Atomically replace `DIR/<name>` (a rendered config) with `contents`. Same mode as secret
    /// files, since a config may carry inlined secrets.
    pub fn write_config(&self, name: &str, contents: &[u8]) -> Result<PathBuf, OutputError> {
        self.replace(self.dir.as_fd(), &self.path, name, contents, true)
    }

    /// Remove `DIR/secrets/<name>` if present.
    pub fn remove_secret(&self, name: &str) -> Result<(), OutputError> {
        let dir_path = self.secrets_dir();
        check_name(&dir_path, name)?;
        match rfs::unlinkat(&self.secrets, name, AtFlags::empty()) {
            Ok(()) => rfs::fsync(&self.secrets).map_err(|e| OutputError::io("sync directory", &dir_path, e)),
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(OutputError::io("remove", &dir_path.join(name), e)),
        }
    }

    fn replace(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        name: &str,
        contents: &[u8],
        sync_dir: bool,
    ) -> Result<PathBuf, OutputError> {
        check_name(dir_path, name)?;
        if self.holds(dir, name, contents) {
            return Ok(dir_path.join(name));
        }
        let temp = self.write_temp(dir, dir_path, name, contents)?;
        let final_path = temp.move_into_place(name)?;
        if sync_dir {
            rfs::fsync(dir).map_err(|e| OutputError::io("sync directory", dir_path, e))?;
        }
        Ok(final_path)
    }

    /// Whether DIR/<name> already is what a write would make it: a regular file of ours, with
    /// the configured mode and group and exactly `contents`. Such a file is left alone, as
    /// consul-template leaves an unchanged file: its mtime stays, a file watcher sees nothing,
    /// and a re-render costs a read instead of a create and a rename. Anything else (missing, a
    /// symlink, another owner or mode, other contents) is replaced.
    fn holds(&self, dir: BorrowedFd<'_>, name: &str, contents: &[u8]) -> bool {
        self.read_ours(dir, name, contents.len()..=contents.len()).is_some_and(|held| *held == *contents)
    }

    /// The contents of DIR/<name> when it is a regular file of ours with the configured mode
    /// and group, of a size within `sizes`; `None` otherwise.
    fn read_ours(
        &self,
        dir: BorrowedFd<'_>,
        name: &str,
        sizes: impl std::ops::RangeBounds<usize>,
    ) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let (fd, stat) = open_regular(dir, name)?;
        let ours = stat.st_uid == self.euid
            && stat.st_nlink == 1
            && stat.st_mode & 0o7777 == self.file_mode.mode
            && self.file_mode.group.is_none_or(|gid| stat.st_gid == gid);
        let size = usize::try_from(stat.st_size).ok()?;
        if !ours || !sizes.contains(&size) {
            return None;
        }
        // One byte more than the size, to see a file that grew since the stat. A read of a
        // regular file that returns less than was asked for has reached the end (or was cut
        // short by a signal, and then the contents differ and the file is rewritten): no
        // second read is needed to see the end.
        let mut held = zeroize::Zeroizing::new(vec![0; size + 1]);
        let mut filled = 0;
        loop {
            match rustix::io::read(&fd, &mut held[filled..]) {
                Ok(read) => {
                    filled += read;
                    if read == 0 || filled < held.len() {
                        break;
                    }
                    return None;
                }
                Err(Errno::INTR) => {}
                Err(_) => return None,
            }
        }
        held.truncate(filled);
        Some(held)
    }

    /// Reads ahead what [`StagedSecrets::stage`] checks before it leaves a file alone: the
    /// contents of each of `names` in `secrets/` that is a regular file of ours with the
    /// configured mode and group. `render` reads them on another thread while the values are
    /// fetched, so that after the last one only comparisons are left.
    pub fn read_held_secrets<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> HeldSecrets {
        let dir_path = self.secrets_dir();
        let secrets = self.secrets.as_fd();
        // Each name is opened as it comes: after a render into this directory all of them are
        // there, and listing it first would cost more than the opens. The first one that cannot
        // be read (a first render, a new secret) has the directory listed once, so that names
        // it lacks are not tried one by one.
        let mut present: Option<Names> = None;
        let mut held = HashMap::default();
        for name in names {
            if check_name(&dir_path, name).is_err() || present.as_ref().is_some_and(|present| !present.contains(name)) {
                continue;
            }
            match self.read_ours(secrets, name, ..=READ_AHEAD_MAX) {
                Some(contents) => {
                    held.insert(name.to_owned(), contents);
                }
                None if present.is_none() => present = Some(self.secret_names()),
                None => {}
            }
        }
        HeldSecrets(held)
    }

    /// Writes `contents` to a new temporary file beside DIR/<name>, mode and owner final before
    /// the first byte, synced.
    fn write_temp<'a>(
        &self,
        dir: BorrowedFd<'a>,
        dir_path: &Path,
        name: &str,
        contents: &[u8],
    ) -> Result<TempFile<'a>, OutputError> {
        check_name(dir_path, name)?;
        let final_path = dir_path.join(name);
        let (fd, temp) = TempFile::create(dir, dir_path, name, &final_path, self.file_mode)?;

        // Ownership and mode must be final before the first byte lands: anyone who can open
        // the file later could otherwise have opened it while it was too permissive.
        settle_permissions(&fd, self.file_mode, &final_path)?;
        let mut file = File::from(fd);
        file.write_all(contents).map_err(|e| OutputError::io("write temporary file for", &final_path, e))?;
        // Without this, a crash after the rename can leave an empty file under the final name.
        rfs::fsync(&file).map_err(|e| OutputError::io("sync temporary file for", &final_path, e))?;
        Ok(temp)
    }
}

/// A write that fails ends the command with exit 5 (output), naming the path, never the value.
impl From<OutputError> for crate::exit::Failure {
    fn from(error: OutputError) -> Self {
        Self::new(crate::exit::ExitCode::Output, format!("cannot write output: {error}"))
    }
}

/// An output directory refused before anything is written (by [`OutputDir::open`] or
/// [`refuse_to_replace_configs`]) ends the command with exit 5 too, naming the directory.
pub fn unusable_dir(error: OutputError) -> crate::exit::Failure {
    crate::exit::Failure::new(crate::exit::ExitCode::Output, format!("cannot use the output directory: {error}"))
}

/// Opens DIR/<name> for reading if it is a regular file, never following a symlink; with its
/// status.
fn open_regular(dir: BorrowedFd<'_>, name: &str) -> Option<(OwnedFd, rfs::Stat)> {
    // NONBLOCK: a FIFO planted under the name must not hang the open.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rfs::openat(dir, name, flags, Mode::empty()).ok()?;
    let stat = rfs::fstat(&fd).ok()?;
    (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile).then_some((fd, stat))
}

/// What some of `secrets/` held when it was read ahead ([`OutputDir::read_held_secrets`]).
pub struct HeldSecrets(HashMap<String, zeroize::Zeroizing<Vec<u8>>, foldhash::fast::RandomState>);

/// What staging knows of `secrets/` before it stages.
enum Present {
    /// The names in it when staging began (see [`OutputDir::secret_names`]): each file among
    /// them is checked when it is staged.
    Listed(Names),
    /// What its files held when they were read ahead.
    Read(HeldSecrets),
}

/// Secret files written under hidden temporary names but not yet under their final ones. A
/// caller stages them and [`StagedSecrets::commit`]s them once nothing else can fail; dropped
/// uncommitted, the temporary files are removed and nothing was written.
pub struct StagedSecrets<'a> {
    out: &'a OutputDir,
    dir_path: PathBuf,
    /// What `secrets/` holds, as far as staging needs to know.
    present: Present,
    staged: Vec<(TempFile<'a>, String)>,
}

impl<'a> StagedSecrets<'a> {
    /// Writes `DIR/secrets/<name>`'s next contents, as [`OutputDir::write_secret`] does up to the
    /// rename; a file that already holds `value` is left as it is.
    pub fn stage(&mut self, name: &str, value: &[u8]) -> Result<(), OutputError> {
        if let Some(staged) = self.stage_one(name, value)? {
            self.staged.push(staged);
        }
        Ok(())
    }

    /// Stages every `(name, value)` as [`StagedSecrets::stage`] does, spread over the machine's
    /// cores when there are many. Checking a thousand unchanged files, or creating a thousand
    /// new ones, is nearly all system calls on one directory, and those run side by side: the
    /// lookups take no lock, and each file's write and sync are its own. On an error the files
    /// staged so far are still removed when this is dropped, as after `stage`. Files read ahead
    /// as already holding their value need neither a system call nor a thread, and are left
    /// out before the threads are counted.
    pub fn stage_all(&mut self, files: &[(&str, &[u8])]) -> Result<(), OutputError> {
        let pending: Vec<(&str, &[u8])> =
            files.iter().filter(|(name, value)| !self.read_ahead_holds(name, value)).copied().collect();
        let files = pending.as_slice();
        let most = files.len() / FILES_PER_STAGING_THREAD;
        // Asking how many CPUs there are reads the cgroup's quota files (a dozen system calls):
        // not worth it when there are too few files for a second thread, as on a re-render.
        let threads =
            if most < 2 { 1 } else { std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(most) };
        if threads == 1 {
            return files.iter().try_for_each(|(name, value)| self.stage(name, value));
        }
        let this = &*self;
        let stage_part = move |part: &[(&str, &[u8])]| -> Result<Vec<(TempFile<'a>, String)>, OutputError> {
            part.iter().filter_map(|(name, value)| this.stage_one(name, value).transpose()).collect()
        };
        let parts: Vec<_> = std::thread::scope(|scope| {
            let mut chunks = files.chunks(files.len().div_ceil(threads));
            let first = chunks.next().unwrap_or_default();
            let others: Vec<_> = chunks.map(|part| scope.spawn(move || stage_part(part))).collect();
            let mut parts = vec![stage_part(first)];
            parts.extend(
                others.into_iter().map(|other| other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))),
            );
            parts
        });
        for part in parts {
            self.staged.extend(part?);
        }
        Ok(())
    }

    /// Whether `name` was read ahead holding exactly `value` (see [`Present::Read`]).
    fn read_ahead_holds(&self, name: &str, value: &[u8]) -> bool {
        matches!(&self.present, Present::Read(HeldSecrets(held)) if held.get(name).is_some_and(|contents| **contents == *value))
    }

    /// The temp file now holding `value` and the name it is for, or `None` when DIR/secrets/<name>
    /// already holds `value`.
    fn stage_one(&self, name: &str, value: &[u8]) -> Result<Option<(TempFile<'a>, String)>, OutputError> {
        let secrets = self.out.secrets.as_fd();
        check_name(&self.dir_path, name)?;
        let unchanged = match &self.present {
            Present::Listed(names) => names.contains(name) && self.out.holds(secrets, name, value),
            Present::Read(_) => self.read_ahead_holds(name, value),
        };
        if unchanged {
            return Ok(None);
        }
        let temp = self.out.write_temp(secrets, &self.dir_path, name, value)?;
        Ok(Some((temp, name.to_owned())))
    }

    /// Whether nothing is staged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Moves every staged file into place, then syncs `secrets/` once: the renames are durable
    /// together before any config naming them is written. A failure leaves the files already
    /// moved in place and removes the rest.
    pub fn commit(mut self) -> Result<(), OutputError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        for (temp, name) in self.staged.drain(..) {
            temp.move_into_place(&name)?;
        }
        rfs::fsync(&self.out.secrets).map_err(|e| OutputError::io("sync directory", &self.dir_path, e))
    }
}

/// A temp file that is unlinked unless it was renamed into place.
struct TempFile<'a> {
    dir: BorrowedFd<'a>,
    name: String,
    path: PathBuf,
    armed: bool,
}

impl<'a> TempFile<'a> {
    fn create(
        dir: BorrowedFd<'a>,
        dir_path: &Path,
        name: &str,
        final_path: &Path,
        file_mode: FileMode,
    ) -> Result<(OwnedFd, Self), OutputError> {
        // Owner bits only until the group is right, so the process's own group never gets a
        // look at a file meant for another one.
        let create_mode = if file_mode.group.is_some() { file_mode.mode & 0o700 } else { file_mode.mode };
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = Errno::EXIST;
        for _ in 0..TEMP_ATTEMPTS {
            let temp_name = temp_name_for(name);
            match rfs::openat(dir, &temp_name, flags, Mode::from_raw_mode(create_mode)) {
                Ok(fd) => {
                    let temp = Self { dir, path: dir_path.join(&temp_name), name: temp_name, armed: true };
                    return Ok((fd, temp));
                }
                Err(Errno::EXIST) => last = Errno::EXIST,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        Err(OutputError::io("create temporary file for", final_path, last))
    }

    /// Renames the temporary file to `name` in the same directory, returning the final path.
    /// rename(2) replaces whatever sits at the final name, a symlink included, rather than
    /// writing through it.
    fn move_into_place(mut self, name: &str) -> Result<PathBuf, OutputError> {
        let final_path = self.path.with_file_name(name);
        rfs::renameat(self.dir, &self.name, self.dir, name)
            .map_err(|e| OutputError::io("move temporary file into place at", &final_path, e))?;
        self.armed = false;
        Ok(final_path)
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        match rfs::unlinkat(self.dir, &self.name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => tracing::warn!(
                path = %self.path.display(),
                error = %io::Error::from(e),
                "failed to remove temporary file",
            ),
        }
    }
}

/// With `--file-group`, the group may enter the out dir and `secrets/` (group `gid`, `g+rx`,
/// never `g+w`), or its files would be unreachable to the target running as another user. A
/// directory is created 0700 and opened to the group only once it is the group's; one that
/// exists is brought to the same, since it is ours (checked on opening).
fn let_group_in(dir: &OwnedFd, gid: u32, shown: &Path) -> Result<(), OutputError> {
    let stat = rfs::fstat(dir).map_err(|e| OutputError::io("inspect", shown, e))?;
    if stat.st_gid != gid {
        rfs::fchown(dir, None, Some(Gid::from_raw(gid))).map_err(|e| OutputError::io("set group of", shown, e))?;
    }
    let mode = stat.st_mode & 0o7777;
    if mode & GROUP_ENTERS != GROUP_ENTERS {
        rfs::fchmod(dir, Mode::from_raw_mode(mode | GROUP_ENTERS))
            .map_err(|e| OutputError::io("let the file group into", shown, e))?;
    }
    Ok(())
}

/// Group read and search on a directory.
const GROUP_ENTERS: u32 = 0o050;

fn settle_permissions(fd: &OwnedFd, file_mode: FileMode, final_path: &Path) -> Result<(), OutputError> {
    if let Some(gid) = file_mode.group {
        rfs::fchown(fd, None, Some(Gid::from_raw(gid)))
            .map_err(|e| OutputError::io("set group of temporary file for", final_path, e))?;
    }
    // The umask may have stripped bits the operator asked for (0640 under umask 077).
    let stat = rfs::fstat(fd).map_err(|e| OutputError::io("inspect temporary file for", final_path, e))?;
    if stat.st_mode & 0o7777 != file_mode.mode {
        rfs::fchmod(fd, Mode::from_raw_mode(file_mode.mode))
            .map_err(|e| OutputError::io("set mode of temporary file for", final_path, e))?;
    }
    Ok(())
}

/// Names come from slugs of YAML paths; anything that could leave the directory is a bug
/// upstream, so it is refused rather than sanitised.
fn check_name(dir: &Path, name: &str) -> Result<(), OutputError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(OutputError::InvalidName { dir: dir.to_path_buf(), name: name.to_owned() });
    }
    Ok(())
}

/// Opens `name` (relative to `at`) as a directory without following a final symlink, creating
/// it 0700 when missing, and checks that only we can write in it. `shown` is the path for
/// messages.
fn open_trusted_dir(
    at: BorrowedFd<'_>,
    name: &Path,
    shown: &Path,
    create_parents: bool,
) -> Result<OwnedFd, OutputError> {
    let fd = match open_dir(at, name) {
        Err(Errno::NOENT) => {
            if create_parents && let Some(parent) = name.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_missing_parents(parent).map_err(|e| OutputError::io("create directory", parent, e))?;
            }
            // Created with its final mode: a chmod afterwards would leave a window.
            match rfs::mkdirat(at, name, Mode::from_raw_mode(DIR_MODE)) {
                // Someone else created it first; the checks below decide whether to trust it.
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(OutputError::io("create directory", shown, e)),
            }
            open_dir(at, name)
        }
        other => other,
    }
    .map_err(|e| explain_open_error(at, name, shown, e))?;

    let stat = rfs::fstat(&fd).map_err(|e| OutputError::io("inspect", shown, e))?;
    let euid = geteuid().as_raw();
    if stat.st_uid != euid {
        return Err(OutputError::NotOwned { path: shown.to_path_buf(), owner: stat.st_uid, euid });
    }
    let mode = stat.st_mode & 0o7777;
    if mode & GROUP_OR_OTHER_WRITABLE != 0 {
        return Err(OutputError::Writable { path: shown.to_path_buf(), mode });
    }
    Ok(fd)
}

fn open_dir(at: BorrowedFd<'_>, name: &Path) -> rustix::io::Result<OwnedFd> {
    rfs::openat(at, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}

/// Turns ELOOP/ENOTDIR into the refusal the operator needs to act on.
fn explain_open_error(at: BorrowedFd<'_>, name: &Path, shown: &Path, errno: Errno) -> OutputError {
    // ELOOP may also mean a symlink loop higher up: only the entry itself decides.
    if matches!(errno, Errno::LOOP | Errno::NOTDIR)
        && let Ok(stat) = rfs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW)
    {
        let path = shown.to_path_buf();
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => return OutputError::Symlink { path },
            FileType::Directory => {}
            _ => return OutputError::NotADirectory { path },
        }
    }
    OutputError::io("open directory", shown, errno)
}

/// A path that leads to what `fd` has open (`/proc/self/fd/N`), whatever is at its old path now.
#[must_use]
pub fn descriptor_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)))
}

/// Creates the out dir's missing parents, 0755 (less as the umask says); the out dir itself is
/// made with `mkdirat`, 0700.
fn create_missing_parents(parent: &Path) -> io::Result<()> {
    // 0755 whatever the umask allows beyond it: a parent others may write lets them move the
    // out dir away and put their own in its place.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o755).create(parent)
}

fn is_on_tmpfs(fd: BorrowedFd<'_>, shown: &Path) -> Result<bool, OutputError> {
    let statfs = rfs::fstatfs(fd).map_err(|e| OutputError::io("inspect filesystem of", shown, e))?;
    Ok(is_tmpfs_magic(statfs.f_type))
}

fn is_tmpfs_magic(f_type: rfs::FsWord) -> bool {
    // `f_type`'s width and sign differ by platform; the magic numbers are 32-bit.
    let magic = f_type as u32;
    magic == TMPFS_MAGIC || magic == RAMFS_MAGIC
}

/// Takes the out dir's lock, shared, for as long as `dir` stays open; first, when no other
/// process has it open, exclusively, to remove from each of `sweep` the temporary files a
/// writer killed mid-write left behind (0600, but holding a value nothing will ever rename or
/// remove). Every writer holds the shared lock from `open` on, so the exclusive one is granted
/// only while no other writer could have a temporary file in flight; a writer that finds
/// another holding it leaves every file alone. Where the filesystem has no `flock`, nothing is
/// removed. Returns whether no other writer had it open.
fn lock_and_sweep(dir: &OwnedFd, sweep: &[(&OwnedFd, &PathBuf)], shown: &Path) -> bool {
    let alone = match rfs::flock(dir, rfs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            for (fd, dir_path) in sweep {
                remove_temporary_files(fd.as_fd(), dir_path);
            }
            true
        }
        Err(Errno::WOULDBLOCK) => {
            tracing::debug!(path = %shown.display(), "another process writes here too: leaving temporary files alone");
            false
        }
        Err(error) => {
            tracing::debug!(
                path = %shown.display(),
                error = %io::Error::from(error),
                "cannot lock the output directory: leftover temporary files are not removed",
            );
            return true;
        }
    };
    // From exclusive to shared, or to shared beside the others. This waits only for another
    // writer's sweep, which holds the lock exclusively for no longer than one listing.
    if let Err(error) = rfs::flock(dir, rfs::FlockOperation::LockShared) {
        tracing::debug!(path = %shown.display(), error = %io::Error::from(error), "cannot lock the output directory");
    }
    alone
}

/// Removes every file in `dir` named as [`temp_name_for`] names them. Failures are logged: a
/// leftover is worth a warning, not a failed render.
fn remove_temporary_files(dir: BorrowedFd<'_>, dir_path: &Path) {
    let Ok(mut entries) = rfs::Dir::read_from(dir) else { return };
    while let Some(Ok(entry)) = entries.read() {
        let Ok(name) = entry.file_name().to_str() else { continue };
        if !is_temp_name(name) {
            continue;
        }
        match rfs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) => {
                tracing::info!(path = %dir_path.join(name).display(), "removed a temporary file left by an interrupted write")
            }
            Err(Errno::NOENT) => {}
            Err(error) => tracing::warn!(
                path = %dir_path.join(name).display(),
                error = %io::Error::from(error),
                "failed to remove a temporary file left by an interrupted write",
            ),
        }
    }
}

/// The name of a temporary file for `name`: hidden, and unlike any secret file's name (a slug
/// never starts with a dot).
fn temp_name_for(name: &str) -> String {
    format!(".{name}{TEMP_MARK}{}", random_suffix())
}

const TEMP_MARK: &str = ".tmp-";

/// Whether `name` has the shape [`temp_name_for`] gives: `.`, a name, `.tmp-` and 16 lowercase
/// hex digits.
fn is_temp_name(name: &str) -> bool {
    let Some((stem, suffix)) = name.strip_prefix('.').and_then(|rest| rest.rsplit_once(TEMP_MARK)) else {
        return false;
    };
    !stem.is_empty() && suffix.len() == 16 && suffix.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// Collision avoidance, not secrecy: only we can write in these directories, and O_EXCL makes a
/// clash an error rather than a shared file. std seeds `RandomState` from the OS; the counter
/// keeps names distinct within one process.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys are random per process (and per thread), so the counter alone makes
    // names unique here and unpredictable to anyone else; O_EXCL settles the rest.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", hasher.finish())
}

/// Atomically replaces an operator's own file (a `file` secret, a web config, a config
/// `extract` rewrote) with `contents`: a temporary file in the same directory, given the old
/// file's owner, group and mode before any byte (0600 and ours when there was none), synced,
/// renamed over it, and the directory synced. The final path's symlink, if any, is followed, so
/// the file it points at is the one replaced and the link stays. An owner or group the running
/// user cannot give back is an error, with the file left as it was: a file the target reads
/// through its group (`root:prometheus 0640`) must stay readable to it.
pub fn replace_file_in_place(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    replace_file_in_place_checked(path, contents, None)
}

/// Whether [`replace_file_in_place`] could write `path`'s directory (the directory its symlink
/// leads to): asked before anything else is changed, so that a file that cannot be updated does
/// not leave another change (a store's new version) ahead of it.
///
/// # Errors
/// The file cannot be resolved, or its directory is not writable and searchable.
pub fn check_replaceable(path: &Path) -> std::io::Result<()> {
    let real = std::fs::canonicalize(path)?;
    let dir = real.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).map_err(std::io::Error::from)
}

/// A check of a directory as opened, for [`replace_file_in_place_checked`].
pub type DirCheck<'a> = dyn Fn(&File) -> std::io::Result<()> + 'a;

/// [`replace_file_in_place`], with `check_dir` asked about the directory opened before anything
/// is written there (its error returned instead). The directory is then held open and written
/// through (`/proc/self/fd/N/…`), so what was checked is what is written to, whatever a symlink
/// on the way is swapped for meanwhile (`--file-root`).
///
/// # Errors
/// As [`replace_file_in_place`], or `check_dir`'s.
pub fn replace_file_in_place_checked(
    path: &Path,
    contents: &[u8],
    check_dir: Option<&DirCheck<'_>>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let path = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(error) => return Err(error),
    };
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let held = match check_dir {
        Some(check) => {
            let opened = File::open(dir)?;
            check(&opened)?;
            Some(opened)
        }
        None => None,
    };
    let held_path = held.as_ref().map(|opened| descriptor_path(opened.as_fd()));
    let dir = held_path.as_deref().unwrap_or(dir).to_path_buf();
    let path = match (&held_path, path.file_name()) {
        (Some(held), Some(name)) => held.join(name),
        _ => path.clone(),
    };
    let existing = std::fs::metadata(&path).ok();
    let mode = existing.as_ref().map_or(0o600, |metadata| metadata.permissions().mode() & 0o7777);
    let mut temp = tempfile::Builder::new().prefix(".secret-render-").tempfile_in(&dir)?;
    if let Some(existing) = &existing {
        let created = temp.as_file().metadata()?;
        if (created.uid(), created.gid()) != (existing.uid(), existing.gid()) {
            std::os::unix::fs::fchown(temp.as_file(), Some(existing.uid()), Some(existing.gid())).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot keep its owner and group ({}:{}): {error}; run as its owner or as root",
                        existing.uid(),
                        existing.gid()
                    ),
                )
            })?;
        }
    }
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(&path).map_err(|error| error.error)?;
    match held {
        Some(held) => held.sync_all(),
        None => File::open(&dir)?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use rustix::process::{Uid, umask};

    use super::*;

    const NOBODY: u32 = 65534;

    fn mode_of(path: &Path) -> u32 {
        rfs::lstat(path).unwrap().st_mode & 0o7777
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    /// A directory with exactly `mode`, whatever the umask.
    fn make_dir(path: &Path, mode: u32) {
        rfs::mkdir(path, Mode::from_raw_mode(mode)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[expect(clippy::disallowed_methods, reason = "test fixtures outside the writer under test")]
    fn write_fixture(path: &Path, contents: &[u8]) {
        std::fs::write(path, contents).unwrap();
    }

    fn open_default(path: &Path) -> OutputDir {
        OutputDir::open(path, &OutputOptions::default()).unwrap()
    }

    fn is_tmpfs_independently(path: &Path) -> bool {
        let f_type = rustix::fs::statfs(path).unwrap().f_type;
        matches!(f_type as u32, 0x0102_1994 | 0x8584_58f6)
    }

    #[test]
    fn creates_missing_dirs_0700_and_files_0600() {
        let base = tempfile::tempdir().unwrap();
        let out_path = base.path().join("run/secret-render");
        let out = open_default(&out_path);

        assert_eq!(out.path(), out_path);
        assert_eq!(mode_of(&out_path), 0o700);
        assert_eq!(mode_of(&out_path.join("secrets")), 0o700);

        let secret = out.write_secret("job.password-3f2a", b"hunter2").unwrap();
        assert_eq!(secret, out_path.join("secrets/job.password-3f2a"));
        assert_eq!(secret, out.secret_path("job.password-3f2a"));
        assert_eq!(mode_of(&secret), 0o600);

        let config = out.write_config("prometheus.yml", b"global: {}\n").unwrap();
        assert_eq!(config, out_path.join("prometheus.yml"));
        assert_eq!(mode_of(&config), 0o600);

        // Reopening an existing, trusted dir is fine and keeps what is there.
        let again = open_default(&out_path);
        assert_eq!(again.secrets_dir(), out_path.join("secrets"));
        assert!(again.secret_path("job.password-3f2a").exists());
    }

    struct RestoreUmask(Mode);

    impl Drop for RestoreUmask {
        fn drop(&mut self) {
            umask(self.0);
        }
    }

    /// The only test that touches the process-wide umask.
    #[test]
    fn configured_mode_is_honoured_under_umask_077() {
        let _restore = RestoreUmask(umask(Mode::from_raw_mode(0o077)));
        for mode in [0o600, 0o640, 0o644, 0o400, 0o660] {
            let base = tempfile::tempdir().unwrap();
            let options = OutputOptions { file_mode: FileMode { mode, group: None }, ..OutputOptions::default() };
            let out = OutputDir::open(&base.path().join("out"), &options).unwrap();
            let secret = out.write_secret("s", b"v").unwrap();
            let config = out.write_config("c.yml", b"c").unwrap();
            assert_eq!(mode_of(&secret), mode, "secret with mode {mode:o}");
            assert_eq!(mode_of(&config), mode, "config with mode {mode:o}");
        }
    }

    #[test]
    fn configured_group_is_applied() {
        let base = tempfile::tempdir().unwrap();
        let options =
            OutputOptions { file_mode: FileMode { mode: 0o640, group: Some(NOBODY) }, ..OutputOptions::default() };
        let out = OutputDir::open(&base.path().join("out"), &options).unwrap();
        for path in [out.write_secret("s", b"v").unwrap(), out.write_config("c.yml", b"c").unwrap()] {
            let stat = rfs::lstat(&path).unwrap();
            assert_eq!(stat.st_gid, NOBODY, "{}", path.display());
            assert_eq!(stat.st_mode & 0o7777, 0o640, "{}", path.display());
        }
    }

    #[test]
    fn a_file_group_may_enter_the_directories_and_no_one_else() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("out");
        // One created by an earlier render without the option, and one created now.
        drop(open_default(&path));
        for out_path in [path, base.path().join("fresh")] {
            let options =
                OutputOptions { file_mode: FileMode { mode: 0o640, group: Some(NOBODY) }, ..OutputOptions::default() };
            let out = OutputDir::open(&out_path, &options).unwrap();
            for dir in [out.path().to_path_buf(), out.secrets_dir()] {
                let stat = rfs::lstat(&dir).unwrap();
                assert_eq!((stat.st_gid, stat.st_mode & 0o7777), (NOBODY, 0o750), "{}", dir.display());
            }
        }
    }

    #[test]
    fn contents_are_written_byte_for_byte() {
        let big: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let cases: [(&str, &[u8]); 6] = [
            ("empty", b""),
            ("no trailing newline", b"s3cret"),
            ("own trailing newline", b"line\n"),
            ("crlf", b"a\r\n"),
            ("binary", b"\0\xff\x00\xfe nul and high bytes"),
            ("one mebibyte", &big),
        ];
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        for (case, value) in cases {
            let secret = out.write_secret("value", value).unwrap();
            assert_eq!(std::fs::read(&secret).unwrap(), value, "secret: {case}");
            let config = out.write_config("config.yml", value).unwrap();
            assert_eq!(std::fs::read(&config).unwrap(), value, "config: {case}");
        }
    }

    #[test]
    fn replacing_keeps_the_name_and_leaves_no_temp_files() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));

        let first = out.write_secret("token", b"old").unwrap();
        let first_inode = rfs::lstat(&first).unwrap().st_ino;
        let second = out.write_secret("token", b"new value").unwrap();
        out.write_config("app.yml", b"one").unwrap();
        out.write_config("app.yml", b"two").unwrap();

        assert_eq!(first, second);
        assert_eq!(std::fs::read(&second).unwrap(), b"new value");
        // A new inode means readers holding the old file never saw a half-written one.
        assert_ne!(rfs::lstat(&second).unwrap().st_ino, first_inode);
        assert_eq!(names_in(&out.secrets_dir()), ["token"]);
        assert_eq!(names_in(out.path()), ["app.yml", "secrets"]);
        assert_eq!(std::fs::read(out.path().join("app.yml")).unwrap(), b"two");
    }

    /// What a writer killed between creating its temporary files and renaming them leaves: one
    /// in the out dir (a config's) and one in `secrets/`, each named as the writer names them,
    /// beside files that only look alike.
    fn plant_leftovers(out: &Path) -> [PathBuf; 2] {
        let leftovers = [out.join(temp_name_for("app.yml")), out.join(SECRETS_DIR).join(temp_name_for("token"))];
        for path in &leftovers {
            write_fixture(path, b"CANARY-leftover");
        }
        for lookalike in
            ["token.tmp-0123456789abcdef", ".token.tmp-0123", ".token.tmp-0123456789ABCDEF", ".tmp-0123456789abcdef"]
        {
            write_fixture(&out.join(SECRETS_DIR).join(lookalike), b"kept");
        }
        leftovers
    }

    #[test]
    fn temporary_files_an_interrupted_writer_left_are_removed_on_open() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("out");
        drop(open_default(&path));
        let leftovers = plant_leftovers(&path);

        let out = open_default(&path);

        for leftover in &leftovers {
            assert!(!leftover.exists(), "{} is still there", leftover.display());
        }
        assert_eq!(
            names_in(&out.secrets_dir()),
            [".tmp-0123456789abcdef", ".token.tmp-0123", ".token.tmp-0123456789ABCDEF", "token.tmp-0123456789abcdef"]
        );
    }

    #[test]
    fn temporary_files_are_left_alone_while_another_writer_has_the_dir_open() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("out");
        // The lock goes with the open directory, so two in one process stand for two processes.
        let writing = open_default(&path);
        let in_flight = plant_leftovers(&path);

        let second = open_default(&path);
        for file in &in_flight {
            assert!(file.exists(), "{} was removed under a writer", file.display());
        }

        drop((writing, second));
        drop(open_default(&path));
        for file in &in_flight {
            assert!(!file.exists(), "{} outlived every writer", file.display());
        }
    }

    #[test]
    fn the_names_temporary_files_get_are_the_ones_taken_for_leftovers() {
        for name in ["token", "job.basic_auth.password-3f2a", "prometheus.yml", ".previous", "a.tmp-b"] {
            let temp = temp_name_for(name);
            assert!(is_temp_name(&temp), "{temp}");
            assert!(!is_temp_name(name), "{name}");
        }
    }

    #[test]
    fn a_file_already_holding_the_value_is_left_alone() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        let path = out.write_secret("token", b"same").unwrap();
        let before = rfs::lstat(&path).unwrap();
        out.write_secret("token", b"same").unwrap();
        let mut staged = out.stage_secrets();
        staged.stage("token", b"same").unwrap();
        assert!(staged.is_empty(), "an unchanged file is not staged");
        staged.commit().unwrap();
        let after = rfs::lstat(&path).unwrap();
        assert_eq!(
            (after.st_ino, after.st_mtime, after.st_mtime_nsec),
            (before.st_ino, before.st_mtime, before.st_mtime_nsec)
        );
    }

    #[test]
    fn a_file_with_other_contents_mode_or_kind_is_replaced() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        let path = out.write_secret("token", b"same").unwrap();
        // Same length, other bytes.
        out.write_secret("token", b"SAME").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"SAME");
        // Right contents, too open a mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        out.write_secret("token", b"SAME").unwrap();
        assert_eq!(mode_of(&path), 0o600);
        // A FIFO under the name neither hangs the check nor survives.
        rfs::unlink(&path).unwrap();
        rfs::mknodat(CWD, &path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        out.write_secret("token", b"SAME").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"SAME");
        // A second hard link (to a file someone else may read) is not taken as ours.
        let elsewhere = base.path().join("elsewhere");
        rfs::linkat(CWD, &path, CWD, &elsewhere, AtFlags::empty()).unwrap();
        out.write_secret("token", b"SAME").unwrap();
        assert_eq!(rfs::lstat(&path).unwrap().st_nlink, 1);
    }

    #[test]
    fn existing_files_are_read_without_following_a_symlink() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        out.write_secret("token", b"value").unwrap();
        out.write_config("app.yml", b"a: 1\n").unwrap();
        assert_eq!(out.read_existing(Path::new("secrets/token")).as_deref().map(Vec::as_slice), Some(&b"value"[..]));
        assert_eq!(out.read_existing(Path::new("app.yml")).as_deref().map(Vec::as_slice), Some(&b"a: 1\n"[..]));
        let elsewhere = base.path().join("elsewhere");
        write_fixture(&elsewhere, b"not ours");
        symlink(&elsewhere, out.secret_path("link")).unwrap();
        assert!(out.read_existing(Path::new("secrets/link")).is_none(), "a symlink is not followed");
        assert!(out.read_existing(Path::new("secrets/missing")).is_none());
        assert!(out.read_existing(Path::new("../elsewhere")).is_none(), "nothing outside the out dir");
    }

    #[test]
    fn staged_files_appear_only_on_commit_and_vanish_when_dropped() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        out.write_secret("kept", b"old").unwrap();
        let mut staged = out.stage_secrets();
        staged.stage("kept", b"new").unwrap();
        staged.stage("added", b"value").unwrap();
        assert_eq!(std::fs::read(out.secret_path("kept")).unwrap(), b"old", "not before the commit");
        assert!(!out.secret_path("added").exists());
        staged.commit().unwrap();
        assert_eq!(std::fs::read(out.secret_path("kept")).unwrap(), b"new");
        assert_eq!(names_in(&out.secrets_dir()), ["added", "kept"]);

        let mut abandoned = out.stage_secrets();
        abandoned.stage("kept", b"newer").unwrap();
        abandoned.stage("other", b"value").unwrap();
        drop(abandoned);
        assert_eq!(std::fs::read(out.secret_path("kept")).unwrap(), b"new");
        assert_eq!(names_in(&out.secrets_dir()), ["added", "kept"], "no temporary file is left");
    }

    #[test]
    fn staging_over_a_read_ahead_leaves_alone_exactly_the_files_that_held_their_value() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        out.write_secret("same", b"value").unwrap();
        out.write_secret("changed", b"old").unwrap();
        out.write_secret("too_open", b"value").unwrap();
        std::fs::set_permissions(out.secret_path("too_open"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let elsewhere = base.path().join("elsewhere");
        write_fixture(&elsewhere, b"value");
        symlink(&elsewhere, out.secret_path("link")).unwrap();
        let same_before = rfs::lstat(out.secret_path("same")).unwrap();

        let huge = vec![b'v'; READ_AHEAD_MAX + 1];
        out.write_secret("huge", &huge).unwrap();

        let names = ["same", "changed", "too_open", "link", "missing", "huge"];
        let held = out.read_held_secrets(names);
        let mut staged = out.stage_secrets_over(held);
        let files: Vec<(&str, &[u8])> =
            names.iter().map(|&name| (name, if name == "huge" { &huge[..] } else { b"value" })).collect();
        staged.stage_all(&files).unwrap();
        let mut written: Vec<&str> = staged.staged.iter().map(|(_, name)| name.as_str()).collect();
        written.sort_unstable();
        assert_eq!(written, ["changed", "huge", "link", "missing", "too_open"], "too large to read ahead");
        staged.commit().unwrap();

        for name in names {
            let expected: &[u8] = if name == "huge" { &huge } else { b"value" };
            assert_eq!(std::fs::read(out.secret_path(name)).unwrap(), expected, "{name}");
            assert_eq!(mode_of(&out.secret_path(name)), 0o600, "{name}");
        }
        let link = rfs::lstat(out.secret_path("link")).unwrap();
        assert_eq!(FileType::from_raw_mode(link.st_mode), FileType::RegularFile, "the symlink is replaced");
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"value", "the symlink's target is untouched");
        let same_after = rfs::lstat(out.secret_path("same")).unwrap();
        assert_eq!((same_after.st_ino, same_after.st_mtime_nsec), (same_before.st_ino, same_before.st_mtime_nsec));
    }

    /// Enough files that `stage_all` spreads them over every core the machine has.
    const MANY: usize = 4 * FILES_PER_STAGING_THREAD;

    #[test]
    fn many_files_staged_at_once_end_as_if_staged_one_by_one() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        // The first half exists; of those, the even ones already hold their next value.
        for index in 0..MANY / 2 {
            out.write_secret(&format!("s{index:03}"), b"old").unwrap();
        }
        let unchanged = rfs::lstat(out.secret_path("s000")).unwrap();
        let names: Vec<String> = (0..MANY).map(|index| format!("s{index:03}")).collect();
        let values: Vec<Vec<u8>> = (0..MANY)
            .map(
                |index| {
                    if index < MANY / 2 && index % 2 == 0 { b"old".to_vec() } else { format!("new {index}").into() }
                },
            )
            .collect();
        let files: Vec<(&str, &[u8])> =
            names.iter().map(String::as_str).zip(values.iter().map(Vec::as_slice)).collect();

        let mut staged = out.stage_secrets();
        staged.stage_all(&files).unwrap();
        assert_eq!(staged.staged.len(), MANY - MANY / 4, "unchanged files are not staged");
        assert_eq!(std::fs::read(out.secret_path("s001")).unwrap(), b"old", "nothing moves before the commit");
        staged.commit().unwrap();

        for (name, value) in &files {
            assert_eq!(std::fs::read(out.secret_path(name)).unwrap(), *value, "{name}");
            assert_eq!(mode_of(&out.secret_path(name)), 0o600, "{name}");
        }
        assert_eq!(names_in(&out.secrets_dir()), names, "no temporary file is left");
        let after = rfs::lstat(out.secret_path("s000")).unwrap();
        assert_eq!((after.st_ino, after.st_mtime_nsec), (unchanged.st_ino, unchanged.st_mtime_nsec));
    }

    #[test]
    fn a_failure_among_many_files_staged_at_once_leaves_no_temporary_file() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        let mut names: Vec<String> = (0..MANY).map(|index| format!("s{index:03}")).collect();
        names[MANY - 1] = "not/a/name".into();
        let files: Vec<(&str, &[u8])> = names.iter().map(|name| (name.as_str(), &b"value"[..])).collect();

        let mut staged = out.stage_secrets();
        let error = staged.stage_all(&files).unwrap_err();
        assert!(matches!(error, OutputError::InvalidName { .. }), "{error:?}");
        drop(staged);
        assert_eq!(names_in(&out.secrets_dir()), Vec::<String>::new());
    }

    #[test]
    fn failed_write_leaves_no_temp_file_and_no_value_in_the_error() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        make_dir(&out.secret_path("taken"), 0o700);

        let err = out.write_secret("taken", b"hunter2").unwrap_err();

        assert!(matches!(err, OutputError::Io { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&*out.secret_path("taken").to_string_lossy()), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        // rename(2) onto a directory: EISDIR, and the operator is told so.
        assert!(message.ends_with("(os error 21)"), "{message}");
        assert!(!format!("{err:?}").contains("hunter2"));
        assert_eq!(names_in(&out.secrets_dir()), ["taken"]);
    }

    type Setup = fn(&Path) -> PathBuf;

    #[test]
    fn untrustworthy_dirs_are_refused() {
        fn symlink_to_good_dir(base: &Path) -> PathBuf {
            make_dir(&base.join("real"), 0o700);
            symlink(base.join("real"), base.join("out")).unwrap();
            base.join("out")
        }
        fn secrets_with_mode(base: &Path, mode: u32) -> PathBuf {
            make_dir(&base.join("out"), 0o700);
            make_dir(&base.join("out/secrets"), mode);
            base.join("out")
        }
        fn chowned_to_nobody(path: &Path) {
            rfs::chown(path, Some(Uid::from_raw(NOBODY)), None).unwrap();
        }

        let cases: [(&str, Setup, &str); 13] = [
            ("out dir is a symlink", symlink_to_good_dir, "out"),
            (
                "out dir is a symlink, given with a trailing slash",
                |base| {
                    symlink_to_good_dir(base);
                    base.join("out/")
                },
                "out",
            ),
            (
                "out dir is a dangling symlink",
                |base| {
                    symlink(base.join("nowhere"), base.join("out")).unwrap();
                    base.join("out")
                },
                "out",
            ),
            (
                "out dir is a regular file",
                |base| {
                    write_fixture(&base.join("out"), b"");
                    base.join("out")
                },
                "out",
            ),
            (
                "out dir is group-writable",
                |base| {
                    make_dir(&base.join("out"), 0o770);
                    base.join("out")
                },
                "out",
            ),
            (
                "out dir is writable by others",
                |base| {
                    make_dir(&base.join("out"), 0o702);
                    base.join("out")
                },
                "out",
            ),
            (
                "out dir is owned by another user",
                |base| {
                    make_dir(&base.join("out"), 0o700);
                    chowned_to_nobody(&base.join("out"));
                    base.join("out")
                },
                "out",
            ),
            (
                "secrets is a symlink",
                |base| {
                    make_dir(&base.join("out"), 0o700);
                    make_dir(&base.join("elsewhere"), 0o700);
                    symlink(base.join("elsewhere"), base.join("out/secrets")).unwrap();
                    base.join("out")
                },
                "out/secrets",
            ),
            (
                "secrets is a regular file",
                |base| {
                    make_dir(&base.join("out"), 0o700);
                    write_fixture(&base.join("out/secrets"), b"");
                    base.join("out")
                },
                "out/secrets",
            ),
            ("secrets is group-writable", |base| secrets_with_mode(base, 0o720), "out/secrets"),
            ("secrets is writable by others", |base| secrets_with_mode(base, 0o777), "out/secrets"),
            (
                "secrets is owned by another user",
                |base| {
                    let out = secrets_with_mode(base, 0o700);
                    chowned_to_nobody(&out.join("secrets"));
                    out
                },
                "out/secrets",
            ),
            (
                "secrets is owned by another user but not writable",
                |base| {
                    let out = secrets_with_mode(base, 0o755);
                    chowned_to_nobody(&out.join("secrets"));
                    out
                },
                "out/secrets",
            ),
        ];

        for (case, setup, refused) in cases {
            let base = tempfile::tempdir().unwrap();
            let path = setup(base.path());
            let err = OutputDir::open(&path, &OutputOptions::default()).expect_err(case);
            let refused = base.path().join(refused);
            let expected_path = match &err {
                OutputError::Symlink { path }
                | OutputError::NotADirectory { path }
                | OutputError::NotOwned { path, .. }
                | OutputError::Writable { path, .. } => path,
                other => panic!("{case}: unexpected error {other:?}"),
            };
            assert_eq!(expected_path, &refused, "{case}");
            assert!(err.to_string().contains(&*refused.to_string_lossy()), "{case}: {err}");
            // Nothing was created through the refused path.
            for dir in ["real", "elsewhere"] {
                if base.path().join(dir).exists() {
                    assert!(names_in(&base.path().join(dir)).is_empty(), "{case}");
                }
            }
        }
    }

    #[test]
    fn symlink_at_the_final_name_is_replaced_not_followed() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        let victim = base.path().join("victim");
        write_fixture(&victim, b"original");

        type Write = fn(&OutputDir, &[u8]) -> PathBuf;
        let writes: [(&str, PathBuf, Write); 2] = [
            ("secret", out.secret_path("target"), |out, value| out.write_secret("target", value).unwrap()),
            ("config", out.path().join("target"), |out, value| out.write_config("target", value).unwrap()),
        ];
        for (case, link, write) in writes {
            symlink(&victim, &link).unwrap();

            let written = write(&out, b"new");

            assert_eq!(written, link, "{case}");
            let stat = rfs::lstat(&link).unwrap();
            assert_eq!(FileType::from_raw_mode(stat.st_mode), FileType::RegularFile, "{case}");
            assert_eq!(std::fs::read(&link).unwrap(), b"new", "{case}");
            assert_eq!(std::fs::read(&victim).unwrap(), b"original", "{case}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        for name in ["", ".", "..", "a/b", "/etc/passwd", "../escape", "a\0b", "trailing/"] {
            for (op, result) in [
                ("write_secret", out.write_secret(name, b"v").map(drop)),
                ("write_config", out.write_config(name, b"v").map(drop)),
                ("remove_secret", out.remove_secret(name)),
            ] {
                let err = result.expect_err(op);
                assert!(
                    matches!(&err, OutputError::InvalidName { name: n, .. } if n == name),
                    "{op}({name:?}): {err:?}"
                );
            }
        }
        assert_eq!(names_in(out.path()), ["secrets"]);
        assert!(names_in(&out.secrets_dir()).is_empty());

        // Dots are fine when they are not a whole `.` or `..`.
        for name in ["...", ".hidden", "a..b"] {
            out.write_secret(name, b"v").unwrap();
        }
    }

    #[test]
    fn swapping_the_out_dir_for_a_symlink_after_open_does_not_redirect_writes() {
        let base = tempfile::tempdir().unwrap();
        let out_path = base.path().join("out");
        let out = open_default(&out_path);

        let moved = base.path().join("moved");
        rfs::rename(&out_path, &moved).unwrap();
        let decoy = base.path().join("decoy");
        make_dir(&decoy, 0o700);
        make_dir(&decoy.join("secrets"), 0o700);
        symlink(&decoy, &out_path).unwrap();

        out.write_secret("k", b"v").unwrap();
        out.write_config("c.yml", b"c").unwrap();

        assert_eq!(std::fs::read(moved.join("secrets/k")).unwrap(), b"v");
        assert_eq!(std::fs::read(moved.join("c.yml")).unwrap(), b"c");
        assert_eq!(names_in(&decoy), ["secrets"]);
        assert!(names_in(&decoy.join("secrets")).is_empty());
    }

    #[test]
    fn tmpfs_requirement_follows_the_actual_filesystem() {
        let mut bases = vec![tempfile::tempdir().unwrap()];
        if Path::new("/dev/shm").is_dir() {
            bases.push(tempfile::tempdir_in("/dev/shm").unwrap());
        }
        for base in bases {
            let expected = is_tmpfs_independently(base.path());
            let path = base.path().join("out");

            let relaxed = open_default(&path);
            assert_eq!(relaxed.is_tmpfs(), expected, "{}", path.display());

            let strict = OutputOptions { tmpfs: TmpfsPolicy::Require, ..OutputOptions::default() };
            match OutputDir::open(&path, &strict) {
                Ok(out) => assert!(expected && out.is_tmpfs(), "{}", path.display()),
                Err(OutputError::NotTmpfs { path: refused }) => {
                    assert!(!expected, "{}", path.display());
                    assert_eq!(refused, path);
                }
                Err(other) => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn remove_secret_removes_and_tolerates_missing() {
        let base = tempfile::tempdir().unwrap();
        let out = open_default(&base.path().join("out"));
        let path = out.write_secret("old.previous", b"v").unwrap();

        out.remove_secret("old.previous").unwrap();
        assert!(!path.exists());
        out.remove_secret("old.previous").unwrap();
    }

    #[test]
    fn modes_beyond_permission_bits_are_refused() {
        let base = tempfile::tempdir().unwrap();
        for mode in [0o4600, 0o2640, 0o1600, 0o10600] {
            let options = OutputOptions { file_mode: FileMode { mode, group: None }, ..OutputOptions::default() };
            let err = OutputDir::open(&base.path().join("out"), &options).unwrap_err();
            assert!(matches!(err, OutputError::InvalidMode { mode: m, .. } if m == mode), "{err:?}");
        }
    }

    #[test]
    fn an_operators_file_is_replaced_with_its_owner_group_and_mode_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yml");
        write_fixture(&file, b"old");
        // Root can give the file away; anyone else keeps their own.
        let owner = if rustix::process::geteuid().is_root() { NOBODY } else { rustix::process::geteuid().as_raw() };
        let group = if rustix::process::geteuid().is_root() { NOBODY } else { rustix::process::getegid().as_raw() };
        rfs::chown(&file, Some(Uid::from_raw(owner)), Some(rustix::process::Gid::from_raw(group))).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace_file_in_place(&file, b"new").unwrap();
        let stat = rfs::lstat(&file).unwrap();
        assert_eq!((stat.st_uid, stat.st_gid, stat.st_mode & 0o7777), (owner, group, 0o640));
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        assert_eq!(names_in(dir.path()), ["web.yml"], "no temporary file left");
    }

    #[test]
    fn an_operators_file_behind_a_symlink_is_replaced_where_it_lives() {
        let dir = tempfile::tempdir().unwrap();
        make_dir(&dir.path().join("managed"), 0o755);
        write_fixture(&dir.path().join("managed/web.yml"), b"old");
        symlink("managed/web.yml", dir.path().join("web.yml")).unwrap();
        replace_file_in_place(&dir.path().join("web.yml"), b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(dir.path().join("web.yml")).unwrap().file_type().is_symlink(),
            "still a link"
        );
        assert_eq!(std::fs::read(dir.path().join("managed/web.yml")).unwrap(), b"new");
    }

    #[test]
    fn a_missing_operators_file_is_created_0600() {
        let dir = tempfile::tempdir().unwrap();
        replace_file_in_place(&dir.path().join("secret"), b"new").unwrap();
        assert_eq!(mode_of(&dir.path().join("secret")), 0o600);
    }
}
