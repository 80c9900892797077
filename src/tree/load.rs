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
}

/// Parses one YAML document.
pub fn load(text: &str) -> Result<Document, LoadError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    let parsed = parser.load(&mut builder, true);
    if let Some(error) = builder.error.take() {
        return Err(error);
    }
    if let Err(error) = parsed {
        let marker = error.marker();
        return Err(LoadError::Syntax { mark: to_mark(*marker), reason: error.info().to_owned() });
    }
    builder.root.map(|root| Document { root }).ok_or(LoadError::Empty)
}

fn to_mark(marker: Marker) -> Mark {
    Mark { line: marker.line(), column: marker.col() + 1 }
}

enum Open {
    Mapping { node: Node, anchor: usize, pending_key: Option<Node> },
    Sequence { node: Node, anchor: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    error: Option<LoadError>,
}

impl Builder {
    fn fail(&mut self, error: LoadError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Sequence { node: sequence, .. }) => {
                if let NodeKind::Sequence(items) = &mut sequence.kind {
                    items.push(node);
                }
            }
            Some(Open::Mapping { node: mapping, pending_key, .. }) => match pending_key.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar { .. }) {
                        let error = LoadError::ComplexKey { mark: node.mark, shape: node.shape() };
                        self.fail(error);
                        return;
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    if let NodeKind::Mapping(entries) = &mut mapping.kind {
                        let duplicate = entries
                            .iter()
                            .find(|entry| entry.key.as_scalar() == key.as_scalar())
                            .map(|entry| entry.key.mark);
                        if let Some(first) = duplicate {
                            let key_text = key.as_scalar().unwrap_or_default().to_owned();
                            self.fail(LoadError::DuplicateKey { key: key_text, mark: key.mark, first });
                            return;
                        }
                        entries.push(Entry { key, value: node });
                    }
                }
            },
        }
    }
}

fn convert_tag(tag: Option<yaml_rust2::parser::Tag>) -> Option<Tag> {
    tag.map(|tag| Tag { handle: tag.handle, suffix: tag.suffix })
}

impl MarkedEventReceiver for Builder {
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
                self.stack.push(Open::Mapping { node, anchor, pending_key: None });
            }
            Event::SequenceStart(anchor, tag) => {
                let node = Node { kind: NodeKind::Sequence(Vec::new()), tag: convert_tag(tag), mark };
                self.stack.push(Open::Sequence { node, anchor });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(Open::Mapping { node, anchor, .. } | Open::Sequence { node, anchor }) = self.stack.pop() {
                    self.finish(node, anchor);
                }
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(node) => {
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
    fn expands_aliases_and_keeps_tags() {
        let document = load("base: &b {x: 1}\ncopy: *b\nt: !literal {vault: {}}\n").unwrap();
        assert_eq!(document.root.get("copy").unwrap().get("x").unwrap().as_scalar(), Some("1"));
        assert!(document.root.get("t").unwrap().tag.as_ref().unwrap().is_literal());
    }
}
