//! Finding where a scalar's text sits in its source, so that a command (`extract`) can replace
//! one value and leave every other byte — comments, blank lines, key order, quoting — as it was.
//!
//! This is a small span-aware editor on top of yaml-rust2's marks rather than another parser:
//! the loader gives each scalar's start (line and character column); from there the scalar's end
//! is found by re-scanning the source per its style. Only single-line plain, single-quoted and
//! double-quoted scalars are supported; block scalars and multi-line flow scalars are refused.

use std::ops::Range;

use super::{Mark, Node, NodeKind, ScalarStyle};

/// The byte range of the scalar `node` in `source` (quotes included), or why it cannot be edited.
pub fn scalar_span(source: &str, node: &Node) -> Result<Range<usize>, String> {
    let NodeKind::Scalar { text, style } = &node.kind else {
        return Err(format!("the value at {} is {}, not a scalar", node.mark, node.shape()));
    };
    if node.tag.is_some() {
        return Err(format!("the value at {} carries a tag; edit it by hand", node.mark));
    }
    let start = byte_offset(source, node.mark).ok_or_else(|| format!("no source position {}", node.mark))?;
    let line_end = source[start..].find('\n').map_or(source.len(), |end| start + end);
    let line = &source[start..line_end];
    let length = match (style, line.chars().next()) {
        (ScalarStyle::Plain, _) if line.starts_with(text.as_str()) && !text.is_empty() => {
            let rest = &line[text.len()..];
            let rest_trimmed = rest.trim_start();
            let fine = rest_trimmed.is_empty()
                || rest_trimmed.starts_with('#') && rest.len() > rest_trimmed.len()
                || rest_trimmed.starts_with([',', '}', ']']);
            fine.then_some(text.len())
        }
        (ScalarStyle::SingleQuoted, Some('\'')) => closing_single(line),
        (ScalarStyle::Quoted, Some('"')) => closing_double(line),
        _ => None,
    };
    length.map(|length| start..start + length).ok_or_else(|| {
        format!(
            "the value at {} is not a single-line plain or quoted scalar (block scalars and multi-line values are \
             not supported); move it by hand",
            node.mark
        )
    })
}

/// The anchor name when `node` is a scalar written as an alias (`*pw`): the loader gives an
/// alias the position of the alias itself, and the anchored value's text lives elsewhere.
#[must_use]
pub fn alias_name<'a>(source: &'a str, node: &Node) -> Option<&'a str> {
    if !matches!(node.kind, NodeKind::Scalar { .. }) {
        return None;
    }
    let start = byte_offset(source, node.mark)?;
    let name = source[start..].strip_prefix('*')?;
    let end = name.find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}')).unwrap_or(name.len());
    Some(&name[..end])
}

/// Whether the scalar whose text starts at `start` is written with the anchor `&name`.
#[must_use]
pub fn is_anchored_as(source: &str, start: usize, name: &str) -> bool {
    source[..start].trim_end().strip_suffix(name).is_some_and(|before| before.ends_with('&'))
}

/// The byte offset of a 1-based line and character column.
fn byte_offset(source: &str, mark: Mark) -> Option<usize> {
    let line_start =
        if mark.line <= 1 { 0 } else { source.match_indices('\n').nth(mark.line - 2).map(|(index, _)| index + 1)? };
    let line = &source[line_start..];
    let column = mark.column.checked_sub(1)?;
    if column == 0 {
        return Some(line_start);
    }
    line.char_indices()
        .nth(column)
        .map(|(index, _)| line_start + index)
        .or_else(|| (line.chars().count() == column).then_some(source.len()))
}

/// The length of `'…'` at the start of `line` (`''` is an escaped quote).
fn closing_single(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut index = 1;
    while index < bytes.len() {
        if bytes[index] == b'\'' {
            if bytes.get(index + 1) == Some(&b'\'') {
                index += 2;
                continue;
            }
            return Some(index + 1);
        }
        index += 1;
    }
    None
}

/// The length of `"…"` at the start of `line` (backslash escapes skipped).
fn closing_double(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut index = 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return Some(index + 1),
            _ => index += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::load;

    fn span_of(source: &str, key: &str) -> Result<String, String> {
        let document = load(source).unwrap();
        let node = document.root.get(key).unwrap();
        scalar_span(source, node).map(|range| source[range].to_owned())
    }

    #[test]
    fn finds_each_single_line_style() {
        let source = "# c\na: plain value # note\nb: 'it''s'  \nc: \"q\\\"x\" # x\nd: {e: 1}\nf: ünï  code\n";
        assert_eq!(span_of(source, "a").unwrap(), "plain value");
        assert_eq!(span_of(source, "b").unwrap(), "'it''s'");
        assert_eq!(span_of(source, "c").unwrap(), "\"q\\\"x\"");
        assert_eq!(span_of(source, "f").unwrap(), "ünï  code");
        let nested = load(source).unwrap();
        let e = nested.root.get("d").unwrap().get("e").unwrap();
        assert_eq!(&source[scalar_span(source, e).unwrap()], "1");
    }

    #[test]
    fn tells_an_alias_from_its_anchored_value() {
        let source = "a: &pw 'secret'\nb: *pw\nc: {d: *pw}\n";
        let document = load(source).unwrap();
        let (a, b) = (document.root.get("a").unwrap(), document.root.get("b").unwrap());
        assert_eq!(alias_name(source, a), None);
        assert_eq!(alias_name(source, b), Some("pw"));
        assert_eq!(alias_name(source, document.root.get("c").unwrap().get("d").unwrap()), Some("pw"));
        let start = scalar_span(source, a).unwrap().start;
        assert!(is_anchored_as(source, start, "pw"));
        assert!(!is_anchored_as(source, start, "p"));
    }

    #[test]
    fn refuses_block_and_multi_line_scalars() {
        assert!(span_of("a: |\n  text\n", "a").is_err());
        assert!(span_of("a: \"two\n  lines\"\n", "a").is_err());
        assert!(span_of("a: !!str x\n", "a").is_err());
    }
}
