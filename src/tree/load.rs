//! Loading YAML text into a [`Document`] through yaml-rust2's event parser, keeping each scalar's
//! text, style and tag, the order of mapping keys, and where every node starts.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{Document, Entry, Mark, Node, NodeKind, ScalarStyle, Tag};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("invalid YAML at {mark}: {reason}")]
    Syntax { mark: Mark, reason: String },
    #[error("the file holds no YAML document")]
    Empty,
    #[error("the file holds several YAML documents (a second one starts at {mark}); give one document per file")]
    MultipleDocuments { mark: Mark },
    #[error("duplicate key {key:?} at {mark} (first at {first})")]
    DuplicateKey { key: String, mark: Mark, first: Mark },
    #[error("a mapping key at {mark} is {shape}; only scalar keys are supported")]
    ComplexKey { mark: Mark, shape: &'static str },
    #[error("alias at {mark} refers to an unknown anchor")]
    UnknownAlias { mark: Mark },
    #[error("nesting deeper than {MAX_DEPTH} levels at {mark}")]
    TooDeep { mark: Mark },
    #[error("aliases expand to more than {MAX_ALIASED_NODES} nodes (alias at {mark}); write the values out")]
    ExcessiveAliasing { mark: Mark },
    #[error(
        "the plain scalar at {mark} starts with `{indicator}`, which Go's yaml.v2 (Prometheus, Alertmanager) rejects \
         there; quote it"
    )]
    IndicatorStart { mark: Mark, indicator: char },
    #[error(
        "raw {name} at {mark}: YAML 1.1 readers such as Prometheus take it for a line break and YAML 1.2 does not, \
         so its meaning is ambiguous; write it as an escape (\\{escape}) inside double quotes"
    )]
    AmbiguousLineBreak { mark: Mark, name: &'static str, escape: &'static str },
    #[error(
        "the escape `\\/` at {mark} is YAML 1.2 only: Go's yaml.v2 (Prometheus, Alertmanager) rejects it; write `/`"
    )]
    UnknownEscape { mark: Mark },
}

/// U+0085, U+2028 and U+2029 are line breaks to YAML 1.1 (Go's yaml.v2) and ordinary characters
/// to YAML 1.2 (our parser): a file holding one raw cannot be read the same way by both.
fn refuse_ambiguous_line_breaks(text: &str) -> Result<(), LoadError> {
    if text.is_ascii() {
        return Ok(());
    }
    for (line_index, line) in text.lines().enumerate() {
        for (column, c) in line.chars().enumerate() {
            let (name, escape) = match c {
                '\u{85}' => ("NEL (U+0085)", "N"),
                '\u{2028}' => ("LINE SEPARATOR (U+2028)", "L"),
                '\u{2029}' => ("PARAGRAPH SEPARATOR (U+2029)", "P"),
                _ => continue,
            };
            return Err(LoadError::AmbiguousLineBreak {
                mark: Mark { line: line_index + 1, column: column + 1 },
                name,
                escape,
            });
        }
    }
    Ok(())
}

/// The UTF-8 byte order mark, skipped at the start of a document; marks count from after it.
pub const BYTE_ORDER_MARK: char = '\u{feff}';

/// Parses one YAML document.
pub fn load(text: &str) -> Result<Document, LoadError> {
    load_watching(text, &mut |_| {})
}

/// Parses one YAML document as [`load`] does, handing `on_mapping` each mapping as soon as it
/// is complete, before the rest of the document is read: every mapping that [`super::scan`]
/// could take for a provider map, so none inside a `!literal` one. Aliases are not handed
/// again.
pub fn load_watching(text: &str, on_mapping: &mut dyn FnMut(&Node)) -> Result<Document, LoadError> {
    // A UTF-8 byte order mark, which Windows editors write and Go's yaml.v2 skips, is not part
    // of the first key (it was: `\u{feff}scrape_configs`, and no target was recognised).
    let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
    refuse_ambiguous_line_breaks(text)?;
    let mut builder = Builder { on_mapping: Some(on_mapping), ..Builder::default() };
    if text.contains("\\/") {
        // Only then are double-quoted scalars re-read from the source (see `check_escapes`).
        builder.source = Some(text.chars().collect());
    }
    // Events are pulled one at a time rather than through `Parser::load`, which recurses once
    // per nesting level: a hostile file must end in an error, not a stack overflow.
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, marker) = parser
            .next_token()
            .map_err(|error| LoadError::Syntax { mark: to_mark(*error.marker()), reason: error.info().to_owned() })?;
        let end = event == Event::StreamEnd;
        builder.on_event(event, marker);
        if let Some(error) = builder.error.take() {
            return Err(error);
        }
        if builder.stack.len() > MAX_DEPTH {
            return Err(LoadError::TooDeep { mark: to_mark(marker) });
        }
        if end {
            break;
        }
    }
    builder.root.map(|root| Document { root, text_len: text.len() }).ok_or(LoadError::Empty)
}

/// Deeper nesting than any real config has; every walk of the tree recurses per level.
const MAX_DEPTH: usize = 1000;
/// The most nodes aliases may add, as Go's yaml.v2 refuses "excessive aliasing": a few
/// hundred bytes of nested aliases would otherwise expand to billions of nodes.
const MAX_ALIASED_NODES: usize = 100_000;

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Mapping(entries) => {
            entries.iter().map(|entry| count_nodes(&entry.key) + count_nodes(&entry.value)).sum()
        }
        NodeKind::Sequence(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Scalar { .. } | NodeKind::Slot(_) => 0,
    }
}

/// Whether two scalar keys are the same key, as Go's yaml.v2 reads them: two plain nulls however
/// spelt (`~`, `null`, an empty key), else the same text when neither is a null (`'~':` is the
/// string `~`; the emitter writes an empty null key as `~`, which must not then clash with it).
fn same_key(a: &Node, b: &Node) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => a.as_scalar() == b.as_scalar(),
        _ => false,
    }
}

fn to_mark(marker: Marker) -> Mark {
    Mark { line: marker.line(), column: marker.col() + 1 }
}

/// A collection being read. Its children wait on the builder's shared stacks (`entries`,
/// `items`) from `first` on, and move into a vector of their exact number when it closes: a
/// config holds thousands of small mappings, and vectors grown one push at a time would hold
/// room for four entries where most have one or two.
enum Open {
    Mapping { node: Node, anchor: usize, first: usize, pending_key: Option<Node> },
    Sequence { node: Node, anchor: usize, first: usize },
}

#[derive(Default)]
struct Builder<'w> {
    /// The source as characters (yaml-rust2 marks count characters), kept only when it holds a
    /// `\/` that may be an escape inside a double-quoted scalar.
    source: Option<Vec<char>>,
    stack: Vec<Open>,
    /// The entries of the open mappings, innermost last (see [`Open`]).
    entries: Vec<Entry>,
    /// The items of the open sequences, innermost last (see [`Open`]).
    items: Vec<Node>,
    /// Each anchor's node and how many nodes it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes added by alias expansion so far.
    aliased_nodes: usize,
    root: Option<Node>,
    documents: usize,
    error: Option<LoadError>,
    /// Sees each complete mapping outside `!literal` ones (see [`load_watching`]).
    on_mapping: Option<&'w mut dyn FnMut(&Node)>,
    /// How many of the open collections are tagged `!literal`.
    open_literals: usize,
}

impl Builder<'_> {
    fn fail(&mut self, error: LoadError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count_nodes(&node)));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Sequence { .. }) => self.items.push(node),
            Some(Open::Mapping { first, pending_key, .. }) => match pending_key.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar { .. }) {
                        let error = LoadError::ComplexKey { mark: node.mark, shape: node.shape() };
                        self.fail(error);
                        return;
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    let duplicate = self.entries[*first..]
                        .iter()
                        .find(|entry| same_key(&entry.key, &key))
                        .map(|entry| entry.key.mark);
                    if let Some(first) = duplicate {
                        let key_text = key.as_scalar().unwrap_or_default().to_owned();
                        self.fail(LoadError::DuplicateKey { key: key_text, mark: key.mark, first });
                        return;
                    }
                    self.entries.push(Entry { key, value: node });
                }
            },
        }
    }
}

fn convert_tag(tag: Option<yaml_rust2::parser::Tag>) -> Option<Box<Tag>> {
    tag.map(|tag| Box::new(Tag { handle: tag.handle, suffix: tag.suffix }))
}

impl Builder<'_> {
    /// yaml-rust2 accepts YAML 1.2's `\/` escape, which Go's yaml.v2 rejects: a config Go
    /// refuses must not be silently repaired by rendering, so it is refused here too.
    fn check_escapes(&mut self, marker: Marker) -> Result<(), ()> {
        let Some(source) = &self.source else { return Ok(()) };
        let mut position = marker.index();
        // The mark may sit on a tag or anchor before the opening quote.
        while position < source.len() && source[position] != '"' {
            position += 1;
        }
        position += 1;
        while position < source.len() {
            match source[position] {
                '"' => return Ok(()),
                '\\' if source.get(position + 1) == Some(&'/') => {
                    let line = source[..position].iter().filter(|c| **c == '\n').count() + 1;
                    let column =
                        position - source[..position].iter().rposition(|c| *c == '\n').map_or(0, |p| p + 1) + 1;
                    self.fail(LoadError::UnknownEscape { mark: Mark { line, column } });
                    return Err(());
                }
                '\\' => position += 2,
                _ => position += 1,
            }
        }
        Ok(())
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, marker: Marker) {
        if self.error.is_some() {
            return;
        }
        let mark = to_mark(marker);
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(LoadError::MultipleDocuments { mark });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if style == TScalarStyle::DoubleQuoted && self.check_escapes(marker).is_err() {
                    return;
                }
                // In flow context yaml-rust2 takes `[|x]` for a plain scalar; Go refuses it, and
                // in block context (where we write it) `|`/`>` would start a block scalar.
                if style == TScalarStyle::Plain
                    && let Some(indicator) = text.chars().next().filter(|c| matches!(c, '|' | '>'))
                {
                    self.fail(LoadError::IndicatorStart { mark, indicator });
                    return;
                }
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    _ => ScalarStyle::Quoted,
                };
                let node = Node { kind: NodeKind::Scalar { text, style }, tag: convert_tag(tag), mark };
                self.finish(node, anchor);
            }
            Event::MappingStart(anchor, tag) => {
                let node = Node { kind: NodeKind::Mapping(Vec::new()), tag: convert_tag(tag), mark };
                self.open_literals += usize::from(node.is_literal());
                self.stack.push(Open::Mapping { node, anchor, first: self.entries.len(), pending_key: None });
            }
            Event::SequenceStart(anchor, tag) => {
                let node = Node { kind: NodeKind::Sequence(Vec::new()), tag: convert_tag(tag), mark };
                self.open_literals += usize::from(node.is_literal());
                self.stack.push(Open::Sequence { node, anchor, first: self.items.len() });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let closed = match self.stack.pop() {
                    Some(Open::Mapping { mut node, anchor, first, .. }) => {
                        // `collect` from a drain sizes the vector exactly.
                        node.kind = NodeKind::Mapping(self.entries.drain(first..).collect());
                        Some((node, anchor))
                    }
                    Some(Open::Sequence { mut node, anchor, first }) => {
                        node.kind = NodeKind::Sequence(self.items.drain(first..).collect());
                        Some((node, anchor))
                    }
                    None => None,
                };
                if let Some((node, anchor)) = closed {
                    if node.is_literal() {
                        self.open_literals -= 1;
                    } else if self.open_literals == 0
                        && matches!(node.kind, NodeKind::Mapping(_))
                        && let Some(on_mapping) = &mut self.on_mapping
                    {
                        on_mapping(&node);
                    }
                    self.finish(node, anchor);
                }
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some((node, count)) => {
                    self.aliased_nodes += count;
                    if self.aliased_nodes > MAX_ALIASED_NODES {
                        self.fail(LoadError::ExcessiveAliasing { mark });
                        return;
                    }
                    let mut node = node.clone();
                    node.mark = mark;
                    self.finish(node, 0);
                }
                None => self.fail(LoadError::UnknownAlias { mark }),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_styles_and_marks() {
        let document = load("b: 1\na: 'x'\nc:\n  - \"y\"\n  - on\n").unwrap();
        let entries = document.root.as_mapping().unwrap();
        let keys: Vec<_> = entries.iter().map(|entry| entry.key.as_scalar().unwrap()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(entries[1].value.kind, NodeKind::Scalar { text: "x".into(), style: ScalarStyle::SingleQuoted });
        assert_eq!(entries[1].key.mark, Mark { line: 2, column: 1 });
        let NodeKind::Sequence(items) = &entries[2].value.kind else { panic!() };
        assert_eq!(items[1].kind, NodeKind::Scalar { text: "on".into(), style: ScalarStyle::Plain });
    }

    /// Found by the fuzz test: a quoted `'~'` key beside an empty null key loaded, but the
    /// emitter writes the null key as `~`, and the two then read back as duplicates. A plain
    /// null and a quoted string are different keys, as Go's yaml.v2 reads them.
    #[test]
    fn a_null_key_and_a_quoted_tilde_key_are_different_keys() {
        let document = load("'~': a\n~: b\n").unwrap();
        let NodeKind::Mapping(entries) = &document.root.kind else { panic!() };
        assert_eq!(entries.len(), 2);
        assert!(matches!(load("~: a\n~: b\n"), Err(LoadError::DuplicateKey { .. })));
        assert!(matches!(load("'~': a\n\"~\": b\n"), Err(LoadError::DuplicateKey { .. })));
    }

    #[test]
    fn refuses_what_cannot_be_rendered_faithfully() {
        type Expectation = fn(&LoadError) -> bool;
        let cases: [(&str, Expectation); 5] = [
            ("a: 1\n---\nb: 2\n", |e| matches!(e, LoadError::MultipleDocuments { .. })),
            ("", |e| matches!(e, LoadError::Empty)),
            ("a: 1\na: 2\n", |e| matches!(e, LoadError::DuplicateKey { .. })),
            ("? [a]\n: 1\n", |e| matches!(e, LoadError::ComplexKey { .. })),
            ("a: [1\n", |e| matches!(e, LoadError::Syntax { .. })),
        ];
        for (text, expected) in cases {
            let error = load(text).unwrap_err();
            assert!(expected(&error), "{text:?} gave {error:?}");
        }
    }

    #[test]
    fn each_complete_mapping_is_seen_as_it_closes_except_inside_literal_ones() {
        let text = concat!(
            "kept: !literal {a: {vault: {path: x}}}\n",
            "jobs:\n",
            "  - password: {vault: {path: y}}\n",
            "    list: !literal [{env: {name: Z}}]\n",
            "  - &anchor {file: {path: w}}\n",
            "  - *anchor\n",
        );
        let mut seen = Vec::new();
        load_watching(text, &mut |mapping| {
            let keys: Vec<&str> = mapping.as_mapping().unwrap().iter().filter_map(|e| e.key.as_scalar()).collect();
            seen.push(keys.join(","));
        })
        .unwrap();
        assert_eq!(seen, ["path", "vault", "password,list", "path", "file", "kept,jobs"]);
    }

    #[test]
    fn collections_hold_no_spare_room() {
        let document = load("a: {b: 1}\nc: [1, 2, 3]\nd:\n  - {e: 1, f: 2}\n").unwrap();
        let entries = document.root.as_mapping().unwrap();
        let NodeKind::Mapping(root) = &document.root.kind else { panic!() };
        assert_eq!(root.capacity(), 3);
        let NodeKind::Sequence(items) = &entries[1].value.kind else { panic!() };
        assert_eq!((items.len(), items.capacity()), (3, 3));
        let NodeKind::Sequence(items) = &entries[2].value.kind else { panic!() };
        let NodeKind::Mapping(inner) = &items[0].kind else { panic!() };
        assert_eq!((inner.len(), inner.capacity()), (2, 2));
    }

    #[test]
    fn expands_aliases_and_keeps_tags() {
        let document = load("base: &b {x: 1}\ncopy: *b\nt: !literal {vault: {}}\n").unwrap();
        assert_eq!(document.root.get("copy").unwrap().get("x").unwrap().as_scalar(), Some("1"));
        assert!(document.root.get("t").unwrap().tag.as_deref().unwrap().is_literal());
    }
}
