//! Where each node of a YAML file stands, so that any error found on the parsed value (by serde
//! or by semantic validation) can be reported at the right `line:col`.
//!
//! serde_yaml does not expose node positions, so the file is parsed a second time with
//! yaml-rust2's event parser, which does.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from a document's root, e.g. `spec.rules[0].then`.
pub type Path = Vec<Seg>;

/// Renders a path the way users write it: `spec.rules[0].then`.
pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Positions of the nodes of one YAML document.
#[derive(Debug, Default, Clone)]
pub struct DocIndex {
    /// Where each node's value starts.
    values: HashMap<Path, Pos>,
    /// Where a mapping key starts, for messages about the key itself (unknown field).
    keys: HashMap<Path, Pos>,
    /// Where the document starts.
    pub start: Option<Pos>,
}

impl DocIndex {
    /// The position of the value at `path`, or of its nearest located ancestor.
    pub fn value(&self, path: &[Seg]) -> Pos {
        self.nearest(path, &self.values)
    }

    /// The position of the key that names `path` (falls back to the value's position).
    pub fn key(&self, path: &[Seg]) -> Pos {
        self.keys
            .get(path)
            .copied()
            .unwrap_or_else(|| self.value(path))
    }

    fn nearest(&self, path: &[Seg], map: &HashMap<Path, Pos>) -> Pos {
        (0..=path.len())
            .rev()
            .find_map(|n| map.get(&path[..n]).copied())
            .or(self.start)
            .unwrap_or(Pos { line: 1, column: 1 })
    }
}

/// Indexes every document of a YAML text; on a syntax error returns what it indexed so far.
pub fn index_documents(text: &str) -> Vec<DocIndex> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    let _ = parser.load(&mut builder, true);
    if let Some(doc) = builder.current.take() {
        builder.docs.push(doc);
    }
    builder.docs
}

enum Frame {
    Map {
        path: Path,
        pending_key: Option<String>,
    },
    Seq {
        path: Path,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    docs: Vec<DocIndex>,
    current: Option<DocIndex>,
    stack: Vec<Frame>,
}

impl Builder {
    /// The path of the node that the next event describes, or `None` when it is a mapping key.
    fn next_path(&mut self) -> Option<Path> {
        match self.stack.last_mut() {
            None => Some(Vec::new()),
            Some(Frame::Seq { path, next }) => {
                let mut p = path.clone();
                p.push(Seg::Index(*next));
                *next += 1;
                Some(p)
            }
            Some(Frame::Map { path, pending_key }) => pending_key.take().map(|k| {
                let mut p = path.clone();
                p.push(Seg::Key(k));
                p
            }),
        }
    }

    fn record_value(&mut self, path: Path, pos: Pos) {
        if let Some(doc) = self.current.as_mut() {
            doc.values.insert(path, pos);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match ev {
            Event::DocumentStart => {
                if let Some(doc) = self.current.take() {
                    self.docs.push(doc);
                }
                self.stack.clear();
                self.current = Some(DocIndex {
                    start: Some(pos),
                    ..DocIndex::default()
                });
            }
            Event::DocumentEnd => {
                if let Some(doc) = self.current.take() {
                    self.docs.push(doc);
                }
            }
            Event::Scalar(value, ..) => match self.next_path() {
                Some(path) => self.record_value(path, pos),
                None => {
                    if let Some(Frame::Map { path, pending_key }) = self.stack.last_mut() {
                        let mut key_path = path.clone();
                        key_path.push(Seg::Key(value.clone()));
                        if let Some(doc) = self.current.as_mut() {
                            doc.keys.insert(key_path, pos);
                            // yaml-rust2 marks a block mapping's start at its first key's colon;
                            // the mapping really starts at that key.
                            if let Some(start) = doc.values.get_mut(path.as_slice()) {
                                if start.line == pos.line && start.column > pos.column {
                                    *start = pos;
                                }
                            }
                        }
                        *pending_key = Some(value);
                    }
                }
            },
            Event::Alias(_) => {
                if let Some(path) = self.next_path() {
                    self.record_value(path, pos);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A collection used as a mapping key has no usable path; index it under a
                // placeholder so its children do not corrupt the surrounding paths.
                let path = self
                    .next_path()
                    .unwrap_or_else(|| vec![Seg::Key("?".into())]);
                self.record_value(path.clone(), pos);
                self.stack.push(match ev {
                    Event::MappingStart(..) => Frame::Map {
                        path,
                        pending_key: None,
                    },
                    _ => Frame::Seq { path, next: 0 },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    #[test]
    fn positions_of_nested_values_and_keys_are_one_based() {
        let text = "a: 1\nspec:\n  rules:\n    - name: x\n      then: delete\n";
        let docs = index_documents(text);
        assert_eq!(docs.len(), 1);
        let then = vec![key("spec"), key("rules"), Seg::Index(0), key("then")];
        assert_eq!(
            docs[0].value(&then),
            Pos {
                line: 5,
                column: 13
            }
        );
        assert_eq!(docs[0].key(&then), Pos { line: 5, column: 7 });
    }

    #[test]
    fn a_block_mapping_starts_at_its_first_key() {
        let docs = index_documents("spec:\n  creds:\n    id: a\n  flow: { x: 1 }\n");
        let creds = vec![key("spec"), key("creds")];
        assert_eq!(docs[0].value(&creds), Pos { line: 3, column: 5 });
        let flow = vec![key("spec"), key("flow")];
        assert_eq!(docs[0].value(&flow), Pos { line: 4, column: 9 });
    }

    #[test]
    fn every_document_of_a_stream_gets_its_own_index() {
        let text = "kind: A\n---\nkind: B\nspec: {x: 1}\n";
        let docs = index_documents(text);
        assert_eq!(docs.len(), 2);
        let x = vec![key("spec"), key("x")];
        assert_eq!(docs[1].value(&x).line, 4);
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let docs = index_documents("spec:\n  target: {}\n");
        let deep = vec![key("spec"), key("target"), key("bucket")];
        assert_eq!(docs[0].value(&deep).line, 2);
    }
}
