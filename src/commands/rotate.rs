//! `secret-render rotate REF`: a new value from the OS CSPRNG, written as a new version of the
//! secret (the previous version stays readable, so the renderer's grace period bridges the
//! switch), and optionally its bcrypt hash written into a Prometheus web config for the receiving
//! side. Nothing secret is printed.

use std::path::Path;

use rand::Rng as _;
use rand::TryRngCore as _;
use zeroize::Zeroizing;

use super::store::Target;
use crate::exit::{ExitCode, Failure};
use crate::provider::{ProviderError, ProviderKind};
use crate::secret::Secret;

/// The characters a generated value is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Alnum,
    Hex,
    Base64Url,
    Printable,
}

impl Charset {
    fn alphabet(self) -> Vec<u8> {
        match self {
            Self::Alnum => (b'0'..=b'9').chain(b'A'..=b'Z').chain(b'a'..=b'z').collect(),
            Self::Hex => (b'0'..=b'9').chain(b'a'..=b'f').collect(),
            Self::Base64Url => (b'A'..=b'Z').chain(b'a'..=b'z').chain(b'0'..=b'9').chain([b'-', b'_']).collect(),
            // Printable ASCII without space, quotes and backslash, so the value survives YAML,
            // shells and HTTP headers unquoted.
            Self::Printable => (b'!'..=b'~').filter(|c| !matches!(c, b'"' | b'\'' | b'\\' | b'`')).collect(),
        }
    }
}

/// `length` characters drawn uniformly (rejection sampling, no modulo bias) from `charset` with
/// the operating system's CSPRNG.
pub fn generate(length: usize, charset: Charset) -> Result<Secret, Failure> {
    let alphabet = charset.alphabet();
    let mut rng = rand::rngs::OsRng;
    // Probe the OS source once so a failure is an error, not a panic inside `unwrap_err`.
    rng.try_next_u32().map_err(|error| Failure::new(ExitCode::Internal, format!("the OS CSPRNG failed: {error}")))?;
    let mut rng = rng.unwrap_err();
    let mut value = Zeroizing::new(Vec::with_capacity(length));
    for _ in 0..length {
        value.push(alphabet[rng.random_range(0..alphabet.len())]);
    }
    Ok(Secret::new(value.to_vec()))
}

/// What reading the secret before the rotation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// The value the rotation replaces.
    Value,
    /// No such secret, or no such key in it (`--create` writes it).
    Nothing,
    /// The read failed (a role allowed to write and not to read), and `--create` writes anyway.
    Unknown,
}

/// Reads the value `target` names before it is replaced: a rotation replaces a value, and a
/// typo in REF must not quietly create a secret no one reads (with `--bcrypt-web-config`, the
/// receiving side would then check a password no scraper sends). `create` lets it make one.
async fn look_before_rotating(target: &Target, create: bool) -> Result<Found, Failure> {
    let location = &target.spec.location;
    // A provider that cannot be written is refused before it is read (an `exec` plugin run).
    if matches!(location.kind(), ProviderKind::Env | ProviderKind::Exec) {
        return Err(super::store::write_failure(ProviderError::ReadOnly { kind: location.kind() }));
    }
    let read = match target.provider()?.fetch(location).await {
        Ok(fetched) => fetched.select(target.spec.key.as_deref(), location).map(drop),
        Err(error) => Err(error),
    };
    match read {
        Ok(()) => Ok(Found::Value),
        Err(ProviderError::NotFound { .. } | ProviderError::MissingKey { .. }) if create => Ok(Found::Nothing),
        Err(error @ (ProviderError::NotFound { .. } | ProviderError::MissingKey { .. })) => Err(Failure::new(
            ExitCode::Fetch,
            format!("{error}: a rotation replaces a value that exists; check REF, or pass --create to make it"),
        )),
        Err(error @ ProviderError::KeyRequired { .. }) => {
            Err(Failure::new(ExitCode::Config, format!("invalid REF: {error}")))
        }
        Err(_) if create => Ok(Found::Unknown),
        Err(error) => {
            // Only a refused read of a whole secret can be skipped: a write of one key reads
            // the secret again to keep the others, and a store that cannot be reached cannot
            // be written either.
            // Vault's write reads the secret itself (to keep its other fields, and for the
            // version to check and set on), so a write-only token cannot rotate there anyway.
            let hint = match (&error, &target.spec.key, target.spec.location.kind()) {
                (ProviderError::PermissionDenied { .. }, None, kind) if kind != ProviderKind::Vault => {
                    " (--create skips this check)"
                }
                _ => "",
            };
            Err(Failure::new(ExitCode::Fetch, format!("cannot read the value to rotate: {error}{hint}")))
        }
    }
}

/// Rotates `target`: writes a new value and, with `web_config`, that user's new bcrypt hash.
/// Without `create`, the secret and its key must exist.
pub async fn run(
    target: &Target,
    length: usize,
    charset: Charset,
    web_config: Option<(&Path, &str)>,
    create: bool,
) -> Result<(), Failure> {
    if length == 0 {
        return Err(Failure::new(ExitCode::Usage, "--length must be at least 1"));
    }
    if web_config.is_some() && length > BCRYPT_MAX_BYTES {
        return Err(Failure::new(
            ExitCode::Usage,
            format!(
                "--length {length} with --bcrypt-web-config: bcrypt uses only the first {BCRYPT_MAX_BYTES} bytes of a \
                 password, so the rest would not be checked; use --length {BCRYPT_MAX_BYTES} or less"
            ),
        ));
    }
    let found = look_before_rotating(target, create).await?;
    let value = generate(length, charset)?;
    // Hash first, and see the web config can be replaced: one we cannot update must not leave
    // the store ahead of it.
    let updated = match web_config {
        Some((file, user)) => {
            let contents = set_bcrypt_user(file, user, &value)?;
            crate::output::check_replaceable(file).map_err(|error| {
                Failure::new(
                    ExitCode::Output,
                    format!("cannot update {}: {error}; nothing was written to the store", file.display()),
                )
            })?;
            Some((file, contents))
        }
        None => None,
    };
    let provider = target.provider()?;
    let outcome = provider
        .put(&target.spec.location, target.spec.key.as_deref(), &value)
        .await
        .map_err(super::store::write_failure)?;
    let kind = target.spec.location.kind();
    // Vault answers a KV v2 write with its version, a KV v1 write with none.
    let keeps_history = match kind {
        ProviderKind::File | ProviderKind::Kubernetes => false,
        ProviderKind::Vault => outcome.version.is_some(),
        _ => true,
    };
    let history = if found == Found::Nothing {
        "there was no current value to replace".to_owned()
    } else if keeps_history {
        "the previous version stays readable in the store".to_owned()
    } else {
        format!(
            "`{kind}` keeps no previous version, so the old value is gone from the store (a running renderer keeps it \
             for its grace period)"
        )
    };
    let mut text = format!(
        "{} {}{}: {length} new characters; {history}\n",
        if found == Found::Nothing { "created" } else { "rotated" },
        target.spec.describe(),
        super::store::version_text(outcome.version.as_deref()),
    );
    if let Some((file, contents)) = updated {
        crate::output::replace_file_in_place(file, contents.as_bytes()).map_err(|error| {
            Failure::new(
                ExitCode::Output,
                format!(
                    "the store holds the new value, but {} could not be updated: {error}; rotate again",
                    file.display()
                ),
            )
        })?;
        text.push_str(&format!("updated the bcrypt hash in {}\n", file.display()));
    }
    super::print(&text);
    Ok(())
}

/// The most bytes of a password bcrypt reads; the rest is ignored.
const BCRYPT_MAX_BYTES: usize = 72;

/// The bcrypt cost of new web-config hashes (Prometheus's documentation uses 10).
const BCRYPT_COST: u32 = 10;

/// The text of the web config `file` with `user`'s hash under `basic_auth_users` replaced by a
/// bcrypt hash of `value`; every other byte is kept.
fn set_bcrypt_user(file: &Path, user: &str, value: &Secret) -> Result<String, Failure> {
    let fail = |message: String| Failure::new(ExitCode::Config, format!("{}: {message}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|error| fail(format!("cannot read the web config: {error}")))?;
    let hash = bcrypt::hash(value.expose(), BCRYPT_COST)
        .map_err(|error| Failure::new(ExitCode::Internal, format!("cannot compute the bcrypt hash: {error}")))?;
    replace_user_hash(&text, user, &hash).map_err(fail)
}

/// Replaces the scalar holding `user`'s hash in `text` with `hash`, in place.
fn replace_user_hash(text: &str, user: &str, hash: &str) -> Result<String, String> {
    let document = crate::tree::load(text).map_err(|error| error.to_string())?;
    let users = document.root.get("basic_auth_users").ok_or("it has no `basic_auth_users`")?;
    let node = users
        .get(user)
        .ok_or_else(|| format!("`basic_auth_users` has no user {user:?}; add it (with any hash) before rotating"))?;
    let old = node.as_scalar().ok_or_else(|| match node.kind {
        crate::tree::NodeKind::Mapping(_) => format!(
            "the hash of user {user:?} is a provider map (it lives in a store, as `extract` left it), and \
             --bcrypt-web-config rewrites a hash written in the file: write the hash back into the file, or rotate \
             the password and store its hash yourself"
        ),
        _ => format!("the hash of user {user:?} is not a scalar"),
    })?;
    if old.is_empty() || !old.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'$' | b'.' | b'/')) {
        return Err(format!("the hash of user {user:?} is not a bcrypt hash"));
    }
    let line_start: usize = text.split_inclusive('\n').take(node.mark.line.saturating_sub(1)).map(str::len).sum();
    let column = text[line_start..].char_indices().nth(node.mark.column.saturating_sub(1)).map_or(0, |(at, _)| at);
    let start = line_start + column;
    // A quoted scalar's mark is its opening quote.
    let start = if text[start..].starts_with(['"', '\'']) { start + 1 } else { start };
    if !text[start..].starts_with(old) {
        return Err(format!("cannot find the hash of user {user:?} in the text"));
    }
    let mut rewritten = String::with_capacity(text.len() + hash.len());
    rewritten.push_str(&text[..start]);
    rewritten.push_str(hash);
    rewritten.push_str(&text[start + old.len()..]);
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_use_only_the_charset_and_differ() {
        for charset in [Charset::Alnum, Charset::Hex, Charset::Base64Url, Charset::Printable] {
            let alphabet = charset.alphabet();
            let one = generate(64, charset).unwrap();
            let two = generate(64, charset).unwrap();
            assert_eq!(one.len(), 64);
            assert!(one.expose().iter().all(|c| alphabet.contains(c)), "{charset:?}");
            assert_ne!(one.expose(), two.expose());
        }
    }

    /// The alphabets as the help text promises them, spelled out (not derived from the code).
    #[test]
    fn each_charset_is_the_alphabet_its_help_text_promises() {
        let text = |charset: Charset| String::from_utf8(charset.alphabet()).unwrap();
        assert_eq!(text(Charset::Alnum), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
        assert_eq!(text(Charset::Hex), "0123456789abcdef");
        assert_eq!(text(Charset::Base64Url), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        assert_eq!(
            text(Charset::Printable),
            "!#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~"
        );
    }

    #[test]
    fn only_the_users_hash_changes() {
        let text = "# web config\ntls_server_config: {}\nbasic_auth_users:\n  alice: $2y$10$aaaaaaaa # old\n  bob: \"$2y$10$bbbbbbbb\"\n";
        let new = "$2b$10$NEW";
        assert_eq!(
            replace_user_hash(text, "bob", new).unwrap(),
            "# web config\ntls_server_config: {}\nbasic_auth_users:\n  alice: $2y$10$aaaaaaaa # old\n  bob: \"$2b$10$NEW\"\n"
        );
        assert_eq!(
            replace_user_hash(text, "alice", new).unwrap(),
            "# web config\ntls_server_config: {}\nbasic_auth_users:\n  alice: $2b$10$NEW # old\n  bob: \"$2y$10$bbbbbbbb\"\n"
        );
        assert!(replace_user_hash(text, "carol", new).unwrap_err().contains("no user"));
    }
}
