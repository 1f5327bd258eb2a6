//! YAML text -> a position-stamped document tree, with size, depth and alias caps.
//!
//! serde_yaml cannot say on which line a card sits, so the file is read with
//! yaml-rust2's pull parser and turned into a small tree of mappings, sequences
//! and scalars, each stamped with its line and column. Scalars keep their raw
//! text and style: this module applies none of YAML's type rules, so an unquoted
//! `+12223334444` stays that string (validation decides what each value means).
//!
//! The file may come from an untrusted pull request, so building the tree is
//! bounded: input size, nesting depth, and the number of nodes counting every
//! alias expansion (a "billion laughs" file fails after a few thousand events).
//! Aliases share the anchored subtree (`Arc`), so they cost no memory either.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diag::Diagnostic;

/// Largest file accepted (a 10,000-card file is about 1 MiB).
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted (a valid file needs 3).
pub const MAX_DEPTH: usize = 64;
/// Most nodes accepted, counting each alias as the size of what it repeats.
pub const MAX_NODES: usize = 2_000_000;

/// 1-based line and column of a node's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        // yaml-rust2's lines are 1-based, its columns 0-based.
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }
}

/// How a scalar was written. Only `Plain` scalars can be null, numbers or booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    /// `'...'` or `"..."`.
    Quoted,
    /// `|` or `>`.
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Scalar { text: String, style: ScalarStyle },
    Sequence(Vec<Arc<Node>>),
    Mapping(Vec<(Arc<Node>, Arc<Node>)>),
}

/// One node of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
    /// An explicit tag (`!!str`, `!foo`), as `handle + suffix`.
    pub tag: Option<String>,
}

impl Node {
    /// A plain scalar that YAML reads as null: `~`, `null`, or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
            && self.tag.is_none()
    }

    /// What the node is, for "found a list" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Mapping(_) => "a mapping",
            NodeKind::Sequence(_) => "a list",
            NodeKind::Scalar { .. } if self.is_null() => "nothing (null)",
            NodeKind::Scalar { .. } => "a scalar",
        }
    }
}

/// The parsed file, every node stamped with its line.
#[derive(Debug, Clone)]
pub struct Document {
    /// `None` for an empty file (or one holding only comments).
    pub root: Option<Arc<Node>>,
}

/// A collection being built.
struct Frame {
    pos: Pos,
    anchor: usize,
    tag: Option<String>,
    /// Expanded node count of this subtree so far (itself included).
    size: usize,
    content: FrameContent,
}

enum FrameContent {
    Sequence(Vec<Arc<Node>>),
    Mapping {
        entries: Vec<(Arc<Node>, Arc<Node>)>,
        key: Option<Arc<Node>>,
    },
}

fn tag_text(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

/// Parse `text` into a [`Document`]; `path` is only used in messages.
///
/// A syntax error stops the parser, so it is the only diagnostic returned.
pub fn parse(path: &Path, text: &str) -> Result<Document, Vec<Diagnostic>> {
    let fail = |pos: Option<Pos>, message: String| {
        let mut d = Diagnostic::file_error(path, message);
        d.line = pos.map(|p| p.line);
        d.column = pos.map(|p| p.column);
        Err(vec![d])
    };
    if text.len() > MAX_INPUT_BYTES {
        return fail(
            None,
            format!(
                "the file is {} bytes; at most {MAX_INPUT_BYTES} are accepted",
                text.len()
            ),
        );
    }

    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Anchored subtrees by the parser's anchor id, with their expanded size.
    let mut anchors: HashMap<usize, (Arc<Node>, usize)> = HashMap::new();
    let mut total: usize = 0;
    let mut root: Option<Arc<Node>> = None;
    let mut documents = 0usize;

    loop {
        let (event, marker) = match parser.next_token() {
            Ok(ev) => ev,
            Err(e) => {
                // The scanner reads ahead of the events in flow context, so
                // its own nesting limit can trip before MAX_DEPTH does.
                let info = match e.info() {
                    "recursion limit exceeded" => "nesting too deep (recursion limit exceeded)",
                    other => other,
                };
                return fail(
                    Some(Pos::from_marker(e.marker())),
                    format!("YAML syntax error: {info}"),
                );
            }
        };
        let pos = Pos::from_marker(&marker);
        let is_sequence = matches!(event, Event::SequenceStart(..));
        // A finished node to attach to its parent: (node, expanded size, anchor, kind).
        let finished: Option<(Arc<Node>, usize, usize, Finished)> = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return fail(
                        Some(pos),
                        "the file holds more than one YAML document (a second `---`); \
                         put every card in one document"
                            .to_string(),
                    );
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => ScalarStyle::Quoted,
                    TScalarStyle::Literal | TScalarStyle::Folded => ScalarStyle::Block,
                };
                let node = Node {
                    kind: NodeKind::Scalar { text, style },
                    pos,
                    tag: tag_text(tag),
                };
                Some((Arc::new(node), 1, anchor, Finished::Scalar))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, size)) => Some((Arc::clone(node), *size, 0, Finished::Alias)),
                // The parser rejects unknown anchors itself; an id it knows but
                // we do not is an alias inside the node it names.
                None => {
                    return fail(
                        Some(pos),
                        "an alias refers to the node that contains it".to_string(),
                    )
                }
            },
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return fail(
                        Some(pos),
                        format!("nesting deeper than {MAX_DEPTH} levels; a cards file needs 3"),
                    );
                }
                let content = if is_sequence {
                    FrameContent::Sequence(Vec::new())
                } else {
                    FrameContent::Mapping {
                        entries: Vec::new(),
                        key: None,
                    }
                };
                stack.push(Frame {
                    pos,
                    anchor,
                    tag: tag_text(tag),
                    size: 1,
                    content,
                });
                total = total.saturating_add(1);
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack
                    .pop()
                    .expect("the parser balances start and end events");
                let mut pos = frame.pos;
                let kind = match frame.content {
                    FrameContent::Sequence(items) => NodeKind::Sequence(items),
                    FrameContent::Mapping { entries, .. } => {
                        // yaml-rust2 marks a block mapping one column after its
                        // first key; the key's own mark is exact.
                        if let Some((k, _)) = entries.first() {
                            if k.pos.line == pos.line && k.pos.column < pos.column {
                                pos = k.pos;
                            }
                        }
                        NodeKind::Mapping(entries)
                    }
                };
                let node = Node {
                    kind,
                    pos,
                    tag: frame.tag,
                };
                Some((
                    Arc::new(node),
                    frame.size,
                    frame.anchor,
                    Finished::Collection,
                ))
            }
        };

        let Some((node, size, anchor, event_kind)) = finished else {
            if total > MAX_NODES {
                return fail(Some(pos), too_many_nodes());
            }
            continue;
        };
        // A collection counted itself at its start and its children as they
        // came; a scalar counts 1 and an alias the size of what it repeats.
        match &event_kind {
            Finished::Scalar => total = total.saturating_add(1),
            Finished::Alias => total = total.saturating_add(size),
            Finished::Collection => {}
        }
        if total > MAX_NODES {
            return fail(Some(pos), too_many_nodes());
        }
        // An empty value is reported where the parser noticed it, often the
        // next line; its key's position is where the user looks.
        let mut node = node;
        if let Some(Frame {
            content: FrameContent::Mapping { key: Some(k), .. },
            ..
        }) = stack.last()
        {
            if let Some(n) = Arc::get_mut(&mut node) {
                let empty = matches!(&n.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain } if text.is_empty());
                if empty && n.pos.line > k.pos.line {
                    n.pos = k.pos;
                }
            }
        }
        if anchor != 0 {
            anchors.insert(anchor, (Arc::clone(&node), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(parent) => {
                parent.size = parent.size.saturating_add(size);
                match &mut parent.content {
                    FrameContent::Sequence(items) => items.push(node),
                    FrameContent::Mapping { entries, key } => match key.take() {
                        None => *key = Some(node),
                        Some(k) => entries.push((k, node)),
                    },
                }
            }
        }
    }
    Ok(Document { root })
}

enum Finished {
    Scalar,
    Alias,
    Collection,
}

fn too_many_nodes() -> String {
    format!(
        "the file expands to more than {MAX_NODES} YAML nodes (an alias bomb?); \
         aliases are counted as the nodes they repeat"
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn parse_err(text: &str) -> Diagnostic {
        let mut d = parse(Path::new("bomb.yaml"), text).expect_err("must be refused");
        assert_eq!(d.len(), 1, "{d:#?}");
        d.remove(0)
    }

    /// Refused quickly: the caps must trip long before the work explodes.
    fn assert_fast(start: Instant) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse(Path::new("f"), "a:\n  - b: +12223334444\n").expect("valid");
        let root = doc.root.expect("root");
        assert_eq!(root.pos, Pos { line: 1, column: 1 });
        let NodeKind::Mapping(top) = &root.kind else {
            panic!("mapping")
        };
        let NodeKind::Sequence(items) = &top[0].1.kind else {
            panic!("sequence")
        };
        assert_eq!(items[0].pos, Pos { line: 2, column: 5 });
        let NodeKind::Mapping(card) = &items[0].kind else {
            panic!("mapping")
        };
        assert_eq!(
            card[0].1.kind,
            NodeKind::Scalar {
                text: "+12223334444".into(),
                style: ScalarStyle::Plain
            }
        );
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..30 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let start = Instant::now();
        let d = parse_err(&text);
        assert_fast(start);
        assert!(d.message.contains("alias bomb"), "{}", d.message);
        // 9^7 > MAX_NODES: the cap trips on the 7th line, not the 30th.
        assert_eq!(d.line, Some(7));
    }

    #[test]
    fn deep_flow_nesting_fails_fast() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let start = Instant::now();
        let d = parse_err(&text);
        assert_fast(start);
        assert!(d.message.contains("nesting too deep"), "{}", d.message);
        assert_eq!(d.line, Some(1));
    }

    #[test]
    fn deep_block_nesting_fails_fast() {
        let text = format!("{}x\n", "- ".repeat(10_000));
        let start = Instant::now();
        let d = parse_err(&text);
        assert_fast(start);
        assert!(
            d.message.contains("nesting deeper than 64"),
            "{}",
            d.message
        );
        assert_eq!((d.line, d.column), (Some(1), Some(129)));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let text = "#".repeat(MAX_INPUT_BYTES + 1);
        let d = parse_err(&text);
        assert!(d.message.contains("at most"), "{}", d.message);
    }

    #[test]
    fn alias_inside_its_own_anchor_is_refused() {
        let d = parse_err("a: &x [1, *x]\n");
        assert!(d.message.contains("alias"), "{}", d.message);
    }

    #[test]
    fn unknown_alias_is_a_syntax_error() {
        let d = parse_err("a: *nope\n");
        assert!(d.message.starts_with("YAML syntax error"), "{}", d.message);
        assert_eq!(d.line, Some(1));
    }
}
