//! Writing a document's tree back to YAML text in block style, as a [`Template`] whose slots the
//! renderer fills with inlined values once they are known.
//!
//! Faithfulness to Go's yaml.v2/yaml.v3 rests on two rules: a scalar that was plain in the source
//! is written back verbatim and plain (so whatever `yes`, `0777`, `1e3` or `~` meant to the target
//! before, it means the same now), and every string we produce or that was quoted is written
//! quoted (so no schema can read it as anything but a string). Mapping order is kept.

use std::fmt;

use super::{Entry, Node, NodeKind, ScalarStyle, Tag};
use crate::secret::Secret;

/// Renders the document up to its slots ([`NodeKind::Slot`]), which [`Template::fill`] completes.
#[must_use]
pub fn emit(root: &Node) -> Template {
    emit_sized(root, 4096)
}

/// [`emit`] into a buffer of `capacity` bytes to start with. A buffer that grows copies (and
/// wipes) everything written so far, while room never written costs no memory as long as the
/// template lives (it is wiped with the rest when dropped), so a generous guess at the length
/// is cheaper than a tight one.
#[must_use]
pub fn emit_sized(root: &Node, capacity: usize) -> Template {
    let mut out = SecretBuffer::with_capacity(capacity);
    let tag = visible_tag(root.tag.as_deref());
    let block = match &root.kind {
        NodeKind::Mapping(entries) => !entries.is_empty(),
        NodeKind::Sequence(items) => !items.is_empty(),
        _ => false,
    };
    if block {
        // A tagged root collection: the tag on the document-start line, then the block.
        if tag.is_some() {
            out.push("---");
            write_tag(&mut out, tag);
            out.push("\n");
        }
        match &root.kind {
            NodeKind::Mapping(entries) => write_mapping(&mut out, entries, 0, false),
            NodeKind::Sequence(items) => write_sequence(&mut out, items, 0),
            _ => unreachable!("checked above"),
        }
    } else {
        let mut line = SecretBuffer::with_capacity(64);
        write_inline(&mut line, root);
        let skipped = leading_spaces(&line);
        // A document that is only a null still needs a document to read back.
        if line.is_empty_from(skipped) {
            out.push("---");
        } else {
            out.append(&line, skipped);
        }
        out.push("\n");
    }
    Template { text: out.bytes, gaps: out.gaps }
}

/// An emitted document with a gap at each slot. It may hold secrets (a YAML secret file's
/// fields are emitted too), so its text is wiped when dropped and never shown in `Debug`.
pub struct Template {
    text: zeroize::Zeroizing<Vec<u8>>,
    gaps: Vec<Gap>,
}

/// Where a slot's value goes in a template's text: at byte `at`, the value of slot `slot`.
#[derive(Clone, Copy)]
struct Gap {
    at: usize,
    slot: usize,
}

impl Template {
    /// The document with each slot's value written double-quoted into its gap: `values[n]` fills
    /// slot `n`; a slot without a value is filled with the empty string.
    #[must_use]
    pub fn fill(&self, values: &[&str]) -> Secret {
        let value = |slot: usize| values.get(slot).copied().unwrap_or_default();
        let quoted: usize = self.gaps.iter().map(|gap| value(gap.slot).len() + 2).sum();
        let mut out = SecretBuffer::with_capacity(self.text.len() + quoted);
        let mut copied = 0;
        for gap in &self.gaps {
            out.push_bytes(&self.text[copied..gap.at]);
            write_double_quoted(&mut out, value(gap.slot));
            copied = gap.at;
        }
        out.push_bytes(&self.text[copied..]);
        out.into_secret()
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template").field("bytes", &self.text.len()).field("gaps", &self.gaps.len()).finish()
    }
}

/// A growable buffer that wipes every copy it leaves behind when it grows, since its content may
/// include secret values, and that records the gaps left for slots.
struct SecretBuffer {
    bytes: zeroize::Zeroizing<Vec<u8>>,
    gaps: Vec<Gap>,
}

impl SecretBuffer {
    fn with_capacity(capacity: usize) -> Self {
        Self { bytes: zeroize::Zeroizing::new(Vec::with_capacity(capacity)), gaps: Vec::new() }
    }

    fn push(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        let needed = self.bytes.len() + bytes.len();
        if needed > self.bytes.capacity() {
            let mut grown = Vec::with_capacity(needed.max(self.bytes.capacity() * 2));
            grown.extend_from_slice(&self.bytes);
            // Dropping the old Zeroizing<Vec> wipes it.
            self.bytes = zeroize::Zeroizing::new(grown);
        }
        self.bytes.extend_from_slice(bytes);
    }

    fn push_gap(&mut self, slot: usize) {
        self.gaps.push(Gap { at: self.bytes.len(), slot });
    }

    /// Appends `other` from byte `from` on, with its gaps.
    fn append(&mut self, other: &SecretBuffer, from: usize) {
        let base = self.bytes.len();
        self.push_bytes(&other.bytes[from..]);
        self.gaps.extend(
            other.gaps.iter().filter(|gap| gap.at >= from).map(|gap| Gap { at: base + gap.at - from, slot: gap.slot }),
        );
    }

    fn is_empty_from(&self, from: usize) -> bool {
        self.bytes.len() == from && !self.gaps.iter().any(|gap| gap.at >= from)
    }

    fn into_secret(mut self) -> Secret {
        Secret::new(std::mem::take(&mut *self.bytes))
    }
}

/// How many spaces `buffer` starts with.
fn leading_spaces(buffer: &SecretBuffer) -> usize {
    buffer.bytes.iter().take_while(|&&byte| byte == b' ').count()
}

fn indent(out: &mut SecretBuffer, width: usize) {
    const SPACES: &str = "                                ";
    let mut left = width;
    while left > 0 {
        let run = left.min(SPACES.len());
        out.push(&SPACES[..run]);
        left -= run;
    }
}

/// The longest key written in the implicit `key: value` form.
const MAX_SIMPLE_KEY: usize = 1000;

fn write_mapping(out: &mut SecretBuffer, entries: &[Entry], width: usize, first_on_current_line: bool) {
    for (position, entry) in entries.iter().enumerate() {
        if position > 0 || !first_on_current_line {
            indent(out, width);
        }
        let mut key = SecretBuffer::with_capacity(32);
        write_inline(&mut key, &entry.key);
        let skipped = leading_spaces(&key);
        if key.bytes.len() - skipped > MAX_SIMPLE_KEY {
            // Go's scanner gives up on implicit keys longer than 1024 characters; an explicit
            // `? key` / `: value` pair has no such limit.
            out.push("? ");
            out.append(&key, skipped);
            out.push("\n");
            indent(out, width);
        } else if key.is_empty_from(skipped) {
            out.push("~");
        } else {
            out.append(&key, skipped);
            // A tag on an empty key (`!!str :`) must not run into the colon.
            if key.bytes.last().is_some_and(|byte| !byte.is_ascii_whitespace()) && is_tagged_empty(&entry.key) {
                out.push(" ");
            }
        }
        out.push(":");
        write_value(out, &entry.value, width + 2);
    }
}

fn write_sequence(out: &mut SecretBuffer, items: &[Node], width: usize) {
    for item in items {
        indent(out, width);
        out.push("-");
        match &item.kind {
            NodeKind::Mapping(entries) if !entries.is_empty() && visible_tag(item.tag.as_deref()).is_none() => {
                out.push(" ");
                write_mapping(out, entries, width + 2, true);
            }
            _ => write_value(out, item, width + 2),
        }
    }
}

/// Writes what follows `key:` or `-`, including the line break.
fn write_value(out: &mut SecretBuffer, node: &Node, width: usize) {
    let tag = visible_tag(node.tag.as_deref());
    match &node.kind {
        NodeKind::Mapping(entries) if !entries.is_empty() => {
            write_tag(out, tag);
            out.push("\n");
            write_mapping(out, entries, width, false);
        }
        NodeKind::Sequence(items) if !items.is_empty() => {
            write_tag(out, tag);
            out.push("\n");
            write_sequence(out, items, width);
        }
        _ => {
            write_inline(out, node);
            out.push("\n");
        }
    }
}

/// Writes a scalar or empty collection, preceded by a space when it is not empty.
fn write_inline(out: &mut SecretBuffer, node: &Node) {
    write_tag(out, visible_tag(node.tag.as_deref()));
    match &node.kind {
        // A plain scalar that spanned lines around a blank one holds a line break, one like
        // `--- x` would read as a document marker at column 0, and one starting with a byte
        // order mark would lose it where a document starts: all are quoted instead, which keeps
        // them the strings they were.
        NodeKind::Scalar { text, style: ScalarStyle::Plain }
            if !text.contains('\n') && !looks_like_marker(text) && !text.starts_with(super::BYTE_ORDER_MARK) =>
        {
            if !text.is_empty() {
                out.push(" ");
                out.push(text);
            }
        }
        NodeKind::Scalar { text, style: ScalarStyle::SingleQuoted } if fits_single_quotes(text) => {
            out.push(" '");
            out.push(&text.replace('\'', "''"));
            out.push("'");
        }
        NodeKind::Scalar { text, .. } => {
            out.push(" ");
            write_double_quoted(out, text);
        }
        NodeKind::Slot(slot) => {
            out.push(" ");
            out.push_gap(*slot);
        }
        NodeKind::Mapping(_) => out.push(" {}"),
        NodeKind::Sequence(_) => out.push(" []"),
    }
}

/// An empty plain scalar with a visible tag (`!!str` alone).
fn is_tagged_empty(node: &Node) -> bool {
    matches!(&node.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain } if text.is_empty())
        && visible_tag(node.tag.as_deref()).is_some()
}

/// `---` or `...` followed by a blank or the end: a document marker at the start of a line.
fn looks_like_marker(text: &str) -> bool {
    ["---", "..."]
        .iter()
        .any(|marker| text.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])))
}

/// `!literal` is ours and is dropped; every other tag is kept.
fn visible_tag(tag: Option<&Tag>) -> Option<&Tag> {
    tag.filter(|tag| !tag.is_literal())
}

fn write_tag(out: &mut SecretBuffer, tag: Option<&Tag>) {
    let Some(tag) = tag else { return };
    out.push(" ");
    match tag.handle.as_str() {
        "tag:yaml.org,2002:" => {
            out.push("!!");
            out.push(&tag.suffix);
        }
        "!" => {
            out.push("!");
            out.push(&tag.suffix);
        }
        handle => {
            out.push("!<");
            out.push(handle);
            out.push(&tag.suffix);
            out.push(">");
        }
    }
}

fn fits_single_quotes(text: &str) -> bool {
    !text.chars().any(needs_escape)
}

/// Characters a quoted scalar must escape: everything outside YAML's printable set (which Go's
/// yaml.v2 enforces: tab, LF, CR, U+0020–U+007E, U+0085, U+00A0–U+D7FF, U+E000–U+FFFD and the
/// astral planes), plus the characters YAML 1.1 readers treat as line breaks or a byte-order mark.
fn needs_escape(c: char) -> bool {
    let printable = matches!(c, '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    !printable || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn write_double_quoted(out: &mut SecretBuffer, text: &str) {
    out.push("\"");
    // Runs of characters that need no escape are copied whole.
    let mut unescaped_from = 0;
    for (position, c) in text.char_indices() {
        let short_escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            '\r' => Some("\\r"),
            '\0' => Some("\\0"),
            c if needs_escape(c) => None,
            _ => continue,
        };
        out.push(&text[unescaped_from..position]);
        unescaped_from = position + c.len_utf8();
        match short_escape {
            Some(escape) => out.push(escape),
            None => {
                let mut escaped = String::with_capacity(8);
                std::fmt::Write::write_fmt(&mut escaped, format_args!("\\u{:04x}", u32::from(c))).ok();
                out.push(&escaped);
            }
        }
    }
    out.push(&text[unescaped_from..]);
    out.push("\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::load;

    fn round_trip(text: &str) -> String {
        let document = load(text).unwrap();
        emit(&document.root).fill(&[]).expose_str().unwrap().to_owned()
    }

    #[test]
    fn writes_block_style_keeping_order_and_scalars_as_written() {
        let source = "global:\n  scrape_interval: 15s\nz: on\na: '0777'\nb: 0777\nc: \"x\\ty\"\nd:\ne: []\nf: {}\nlist:\n- a\n- {k: v, k2: 1e3}\n- [1, 2]\n";
        let expected = "global:\n  scrape_interval: 15s\nz: on\na: '0777'\nb: 0777\nc: \"x\\ty\"\nd:\ne: []\nf: {}\nlist:\n  - a\n  - k: v\n    k2: 1e3\n  -\n    - 1\n    - 2\n";
        assert_eq!(round_trip(source), expected);
    }

    /// Found by the fuzz test once a leading byte order mark was skipped: the scalar `\u{feff}`
    /// at a document's start was written plain, and read back as an empty document.
    #[test]
    fn a_plain_scalar_starting_with_a_byte_order_mark_is_quoted() {
        assert_eq!(round_trip(" # c\r\n\u{feff}"), "\"\\ufeff\"\n");
        assert_eq!(round_trip("a: \u{feff}x\n"), "a: \"\\ufeffx\"\n");
    }

    #[test]
    fn output_loads_back_to_the_same_tree() {
        let source = "a: |\n  line1\n  line2\nb: >\n  folded\n  text\nc: 'it''s'\nd: !!str 123\ne: !literal {vault: {path: x}}\nf: \"\\u2028 \\\" \\\\\"\n";
        let once = round_trip(source);
        let original = load(source).unwrap().root;
        let mut reloaded = load(&once).unwrap().root;
        // Marks differ between the two texts; compare content only.
        fn strip(node: &mut Node) {
            node.mark = crate::tree::Mark::default();
            if node.is_literal() {
                node.tag = None;
            }
            match &mut node.kind {
                NodeKind::Mapping(entries) => entries.iter_mut().for_each(|e| {
                    strip(&mut e.key);
                    strip(&mut e.value);
                }),
                NodeKind::Sequence(items) => items.iter_mut().for_each(strip),
                NodeKind::Scalar { style, .. } if *style != ScalarStyle::Plain => *style = ScalarStyle::Quoted,
                _ => {}
            }
        }
        let mut original = original;
        strip(&mut original);
        strip(&mut reloaded);
        assert_eq!(original, reloaded, "emitted:\n{once}");
        assert_eq!(once, round_trip(&once), "emitting is stable");
    }

    #[test]
    fn slots_are_filled_double_quoted() {
        let mut document = load("password: x\nlist: [a, b]\n").unwrap();
        let NodeKind::Mapping(entries) = &mut document.root.kind else { panic!() };
        entries[0].value.kind = NodeKind::Slot(1);
        let NodeKind::Sequence(items) = &mut entries[1].value.kind else { panic!() };
        items[1].kind = NodeKind::Slot(0);
        let template = emit(&document.root);
        let filled = template.fill(&["second", "yes\n\"#: x"]);
        assert_eq!(filled.expose_str().unwrap(), "password: \"yes\\n\\\"#: x\"\nlist:\n  - a\n  - \"second\"\n");
        // A slot without a value is the empty string; the template can be filled again.
        assert_eq!(template.fill(&[]).expose_str().unwrap(), "password: \"\"\nlist:\n  - a\n  - \"\"\n");
    }

    #[test]
    fn the_starting_size_changes_nothing_but_the_buffer() {
        let mut document = load("a: 1\nlist:\n- {k: v, password: x}\n- [1, 2]\nz: 'q'\n").unwrap();
        let NodeKind::Mapping(entries) = &mut document.root.kind else { panic!() };
        entries[2].value.kind = NodeKind::Slot(0);
        let expected = emit(&document.root).fill(&["secret"]);
        // From nothing (every push grows the buffer, gaps and all) to far more than needed.
        for capacity in [0, 1, 7, 4096, 1 << 20] {
            let filled = emit_sized(&document.root, capacity).fill(&["secret"]);
            assert_eq!(filled.expose(), expected.expose(), "starting from {capacity} bytes");
        }
    }

    #[test]
    fn a_slot_as_the_whole_document_is_filled() {
        let root = Node { kind: NodeKind::Slot(0), tag: None, mark: crate::tree::Mark::default() };
        assert_eq!(emit(&root).fill(&["v"]).expose_str().unwrap(), "\"v\"\n");
    }

    #[test]
    fn a_template_never_shows_its_text_in_debug() {
        let shown = format!("{:?}", emit(&load("password: hunter2\n").unwrap().root));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
