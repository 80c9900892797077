//! The YAML tree: loading a config into [`Node`]s that remember how each scalar was written,
//! finding provider maps in it ([`scan`]), naming places in it ([`YamlPath`]) and writing it back
//! out ([`emit`]) so that Go's yaml.v2/yaml.v3 read the output exactly as they read the source.
//!
//! Parser choice: serde_yaml 0.9 is unmaintained and, more importantly, resolves scalars by the
//! YAML 1.2 core schema and forgets how they were written, so `yes`, `0777` or `1_000` would come
//! back with another meaning to Go's YAML 1.1-flavoured yaml.v2. We use `yaml-rust2` (maintained,
//! pure Rust) at the event level instead: every scalar keeps its original text and style, and
//! plain scalars are written back byte for byte, so their meaning cannot drift. Only this module
//! knows the parser; swapping it is a change to `load.rs` alone.

mod emit;
mod load;
mod path;
pub mod scan;
pub mod spans;

use std::fmt;

pub use emit::{Template, emit, emit_sized};
pub use load::{BYTE_ORDER_MARK, LoadError, load, load_watching};
pub use path::{PathSegment, YamlPath};

/// Where a node starts in its source file (1-based line and column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A YAML tag as written (`!literal`, `!!str`), kept so the output means what the source meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub handle: String,
    pub suffix: String,
}

impl Tag {
    /// `!literal`: marks a mapping that must never be taken for a provider map.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        self.handle == "!" && self.suffix == "literal"
    }
}

/// How a scalar was written, which decides how it is written back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: its meaning depends on the reader's schema, so it is re-emitted verbatim.
    Plain,
    /// Single-quoted in the source: always a string.
    SingleQuoted,
    /// Double-quoted, literal or folded block: always a string.
    Quoted,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Scalar {
        text: String,
        style: ScalarStyle,
    },
    /// Where the renderer inlines a value once it is known: the emitted [`Template`] leaves a
    /// gap here, filled with the value of this number, double-quoted.
    Slot(usize),
    Mapping(Vec<Entry>),
    Sequence(Vec<Node>),
}

#[derive(Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// Boxed: tags are rare, and an inline `Tag` would double every node's size.
    pub tag: Option<Box<Tag>>,
    pub mark: Mark,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    /// An empty plain scalar (YAML null), with no tag and no mark.
    #[must_use]
    pub fn null() -> Self {
        Self {
            kind: NodeKind::Scalar { text: String::new(), style: ScalarStyle::Plain },
            tag: None,
            mark: Mark::default(),
        }
    }

    #[must_use]
    pub fn string(text: impl Into<String>) -> Self {
        Self {
            kind: NodeKind::Scalar { text: text.into(), style: ScalarStyle::Quoted },
            tag: None,
            mark: Mark::default(),
        }
    }

    /// The scalar's text if this is a scalar written in the source.
    #[must_use]
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this node is tagged `!literal`: data, never to be taken for a provider map.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        self.tag.as_deref().is_some_and(Tag::is_literal)
    }

    #[must_use]
    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?.iter().find(|entry| entry.key.as_scalar() == Some(key)).map(|entry| &entry.value)
    }

    /// A short description of the node's shape for error messages (never its content).
    #[must_use]
    pub fn shape(&self) -> &'static str {
        match self.kind {
            NodeKind::Scalar { .. } | NodeKind::Slot(_) => "a scalar",
            NodeKind::Mapping(_) => "a mapping",
            NodeKind::Sequence(_) => "a sequence",
        }
    }

    /// A plain scalar that YAML reads as null (`key:` or `key: ~`).
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            NodeKind::Scalar { text, style } => write!(f, "{style:?}({text:?})"),
            NodeKind::Slot(slot) => write!(f, "Slot({slot})"),
            NodeKind::Mapping(entries) => {
                f.debug_map().entries(entries.iter().map(|entry| (&entry.key, &entry.value))).finish()
            }
            NodeKind::Sequence(items) => f.debug_list().entries(items).finish(),
        }
    }
}

/// One loaded config file.
#[derive(Clone, Debug)]
pub struct Document {
    pub root: Node,
    /// The length in bytes of the text it was read from.
    pub text_len: usize,
}
