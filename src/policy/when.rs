//! Validating a rule's `when` into typed matchers, reporting every problem at its node.

use super::load::Reporter;
use super::location::Seg;
use super::matcher::{KeyGlob, KeyRegex, Matcher, MetaField, TagCond, VersionScope};
use super::units::{parse_date, parse_duration};
use super::wire::{
    AgeMatchWire, KeyMatchWire, OneOrMany, SizeMatchWire, SizeWire, TagCondWire, TtlWire, WhenWire,
};

/// A validated `when`: the version scope and the matchers that must all hold.
pub struct When {
    pub version: VersionScope,
    pub matchers: Vec<Matcher>,
}

/// Collects matchers and whether any of them failed to validate.
struct Build<'r, 'a> {
    r: &'r mut Reporter<'a>,
    scope: &'r str,
    ok: bool,
}

fn at(base: &[Seg], rest: &[&str]) -> Vec<Seg> {
    let mut path = base.to_vec();
    path.extend(rest.iter().map(|k| Seg::Key(k.to_string())));
    path
}

/// Validates `wire`, found at `base` (the rule's `when`).
pub fn when(r: &mut Reporter, scope: &str, base: &[Seg], mut wire: WhenWire) -> Option<When> {
    let mut b = Build { r, scope, ok: true };
    let version = match wire.version.take().as_deref() {
        None | Some("current") => VersionScope::Current,
        Some("noncurrent") => VersionScope::Noncurrent,
        Some("delete-marker") => VersionScope::DeleteMarker,
        Some("any") => VersionScope::Any,
        Some(other) => {
            let msg = format!(
                "unknown version {other:?}: expected current, noncurrent, delete-marker or any"
            );
            b.error(&at(base, &["version"]), msg);
            VersionScope::Current
        }
    };
    let version_only = matches!(version, VersionScope::Noncurrent | VersionScope::Any);
    if !version_only {
        if wire.newer_versions.is_some() {
            b.error(
                &at(base, &["newerVersions"]),
                format!(
                    "newerVersions never matches with version: {}; add version: noncurrent",
                    scope_name(version)
                ),
            );
        }
        if wire.noncurrent_for.is_some() {
            b.error(
                &at(base, &["noncurrentFor"]),
                format!(
                    "noncurrentFor never matches with version: {}; add version: noncurrent",
                    scope_name(version)
                ),
            );
        }
    }
    if version != VersionScope::Current && wire.newer_in_folder.is_some() {
        b.error(
            &at(base, &["newerInFolder"]),
            format!(
                "newerInFolder ranks current objects; it never matches with version: {}",
                scope_name(version)
            ),
        );
    }
    let matchers = b.conditions(base, wire);
    b.ok.then_some(When { version, matchers })
}

fn scope_name(scope: VersionScope) -> &'static str {
    match scope {
        VersionScope::Current => "current",
        VersionScope::Noncurrent => "noncurrent",
        VersionScope::DeleteMarker => "delete-marker",
        VersionScope::Any => "any",
    }
}

impl Build<'_, '_> {
    fn error(&mut self, path: &[Seg], message: impl Into<String>) {
        self.r.error(self.scope, path, message);
        self.ok = false;
    }

    fn conditions(&mut self, base: &[Seg], w: WhenWire) -> Vec<Matcher> {
        let mut out = Vec::new();
        if w.version.is_some() {
            self.error(
                &at(base, &["version"]),
                "version applies to the whole rule: put it at the top of when",
            );
        }
        if let Some(key) = w.key {
            self.key(base, key, &mut out);
        }
        if let Some(age) = w.age {
            self.age(base, age, &mut out);
        }
        if let Some(accessed) = w.accessed {
            let within = self.duration(base, &["accessed", "within"], accessed.within);
            let not = self.duration(base, &["accessed", "notWithin"], accessed.not_within);
            match (within, not) {
                (Some(d), None) => out.push(Matcher::AccessedWithin(d)),
                (None, Some(d)) => out.push(Matcher::NotAccessedWithin(d)),
                _ => self.error(
                    &at(base, &["accessed"]),
                    "accessed needs exactly one of within or notWithin, e.g. { notWithin: 90d }",
                ),
            }
        }
        self.dates(base, w.modified_before, w.modified_after, &mut out);
        if let Some(size) = w.size {
            self.sizes(base, size, &mut out);
        }
        if let Some(classes) = w.storage_class {
            out.push(Matcher::StorageClass(
                self.classes(&at(base, &["storageClass"]), classes),
            ));
        }
        out.extend(
            self.duration(base, &["noncurrentFor"], w.noncurrent_for)
                .map(Matcher::NoncurrentFor),
        );
        out.extend(
            w.newer_versions
                .map(|n| Matcher::NewerVersionsMoreThan(n.more_than)),
        );
        out.extend(
            w.newer_in_folder
                .map(|n| Matcher::NewerInFolderMoreThan(n.more_than)),
        );
        for (name, cond) in w.tags.into_iter().flatten() {
            let path = at(base, &["tags", &name]);
            out.extend(self.tag(&path, cond).map(|c| Matcher::Tag(name, c)));
        }
        out.extend(w.locked.map(|v| Matcher::Locked(v.0)));
        out.extend(w.legal_hold.map(|v| Matcher::LegalHold(v.0)));
        if let Some(ttl) = w.ttl {
            out.extend(self.ttl(&at(base, &["ttl"]), ttl));
        }
        self.combinators(base, w.any, w.all, w.not, &mut out);
        out
    }

    fn key(&mut self, base: &[Seg], key: KeyMatchWire, out: &mut Vec<Matcher>) {
        out.extend(key.prefix.map(Matcher::KeyPrefix));
        out.extend(key.suffix.map(Matcher::KeySuffix));
        if let Some(glob) = key.glob {
            let compiled = KeyGlob::new(&glob).map(Matcher::KeyGlob);
            self.compiled(&at(base, &["key", "glob"]), compiled, out);
        }
        if let Some(regex) = key.regex {
            let compiled = KeyRegex::new(&regex).map(Matcher::KeyRegex);
            self.compiled(&at(base, &["key", "regex"]), compiled, out);
        }
    }

    fn age(&mut self, base: &[Seg], age: AgeMatchWire, out: &mut Vec<Matcher>) {
        let older = self.duration(base, &["age", "olderThan"], age.older_than);
        let younger = self.duration(base, &["age", "youngerThan"], age.younger_than);
        if let (Some(o), Some(y)) = (older, younger) {
            if y <= o {
                self.error(
                    &at(base, &["age", "youngerThan"]),
                    "age.youngerThan must be longer than age.olderThan, or nothing can match",
                );
            }
        }
        out.extend(older.map(Matcher::OlderThan));
        out.extend(younger.map(Matcher::YoungerThan));
    }

    fn sizes(&mut self, base: &[Seg], size: SizeMatchWire, out: &mut Vec<Matcher>) {
        let least = self.size(base, &["size", "atLeast"], size.at_least);
        let most = self.size(base, &["size", "atMost"], size.at_most);
        if let (Some(l), Some(m)) = (least, most) {
            if l > m {
                self.error(
                    &at(base, &["size", "atMost"]),
                    "size.atMost is smaller than size.atLeast, so nothing can match",
                );
            }
        }
        out.extend(least.map(Matcher::SizeAtLeast));
        out.extend(most.map(Matcher::SizeAtMost));
    }

    fn tag(&mut self, path: &[Seg], cond: TagCondWire) -> Option<TagCond> {
        let m = match cond {
            TagCondWire::Equals(v) => return Some(TagCond::Equals(v.0)),
            TagCondWire::Cond(m) => m,
        };
        let conds: Vec<TagCond> = [
            m.exists
                .map(|e| if e { TagCond::Exists } else { TagCond::Absent }),
            m.absent
                .map(|a| if a { TagCond::Absent } else { TagCond::Exists }),
            m.one_of
                .map(|l| TagCond::In(l.into_iter().map(|v| v.0).collect())),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[TagCond; 1]>::try_from(conds) {
            Ok([TagCond::In(list)]) if list.is_empty() => {
                self.error(path, "in needs at least one value");
                None
            }
            Ok([cond]) => Some(cond),
            Err(_) => {
                self.error(
                    path,
                    "a tag condition is a value or exactly one of exists, absent, in",
                );
                None
            }
        }
    }

    fn ttl(&mut self, path: &[Seg], ttl: TtlWire) -> Option<Matcher> {
        match (ttl.tag, ttl.metadata) {
            (Some(tag), None) if !tag.is_empty() => Some(Matcher::Ttl(MetaField::Tag(tag))),
            (None, Some(m)) if !m.is_empty() => {
                Some(Matcher::Ttl(MetaField::Metadata(m.to_ascii_lowercase())))
            }
            _ => {
                self.error(
                    path,
                    "ttl needs exactly one of tag or metadata, naming where the number of days is",
                );
                None
            }
        }
    }

    fn combinators(
        &mut self,
        base: &[Seg],
        any: Option<Vec<WhenWire>>,
        all: Option<Vec<WhenWire>>,
        not: Option<Box<WhenWire>>,
        out: &mut Vec<Matcher>,
    ) {
        for (name, list) in [("any", any), ("all", all)] {
            let Some(list) = list else { continue };
            if list.is_empty() {
                self.error(
                    &at(base, &[name]),
                    format!("{name} needs at least one condition"),
                );
                continue;
            }
            let branches: Vec<Matcher> = list
                .into_iter()
                .enumerate()
                .map(|(i, w)| {
                    let mut path = at(base, &[name]);
                    path.push(Seg::Index(i));
                    Matcher::All(self.conditions(&path, w))
                })
                .collect();
            out.push(if name == "any" {
                Matcher::Any(branches)
            } else {
                Matcher::All(branches)
            });
        }
        if let Some(not) = not {
            out.push(Matcher::Not(Box::new(Matcher::All(
                self.conditions(&at(base, &["not"]), *not),
            ))));
        }
    }

    fn compiled(&mut self, path: &[Seg], result: Result<Matcher, String>, out: &mut Vec<Matcher>) {
        match result {
            Ok(m) => out.push(m),
            Err(msg) => self.error(path, msg),
        }
    }

    fn duration(
        &mut self,
        base: &[Seg],
        rest: &[&str],
        text: Option<String>,
    ) -> Option<chrono::Duration> {
        parse_duration(&text?)
            .map_err(|m| self.error(&at(base, rest), m))
            .ok()
    }

    fn size(&mut self, base: &[Seg], rest: &[&str], wire: Option<SizeWire>) -> Option<u64> {
        wire?
            .bytes()
            .map_err(|m| self.error(&at(base, rest), m))
            .ok()
    }

    fn dates(
        &mut self,
        base: &[Seg],
        before: Option<String>,
        after: Option<String>,
        out: &mut Vec<Matcher>,
    ) {
        let date = |b: &mut Self, name: &str, text: Option<String>| {
            parse_date(&text?)
                .map_err(|m| b.error(&at(base, &[name]), m))
                .ok()
        };
        let before = date(self, "modifiedBefore", before);
        let after = date(self, "modifiedAfter", after);
        if let (Some(b), Some(a)) = (before, after) {
            if a >= b {
                self.error(
                    &at(base, &["modifiedAfter"]),
                    "modifiedAfter is not before modifiedBefore, so nothing can match",
                );
            }
        }
        out.extend(before.map(Matcher::ModifiedBefore));
        out.extend(after.map(Matcher::ModifiedAfter));
    }

    fn classes(&mut self, path: &[Seg], wire: OneOrMany) -> Vec<String> {
        let classes = match wire {
            OneOrMany::One(c) => vec![c],
            OneOrMany::Many(cs) => cs,
        };
        if classes.is_empty() {
            self.error(path, "storageClass needs at least one class");
        }
        for class in &classes {
            if class.is_empty()
                || !class
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                self.error(path, format!("storage class {class:?} is not a storage class name such as STANDARD or GLACIER_IR"));
            }
        }
        classes
    }
}
