//! The snapshot rows a policy can possibly decide, as SQL, so PostgreSQL skips the others
//! before they are sent. This is only a filter: it must hold for every version that
//! [`evaluate::decide`](super::evaluate::decide) would give to a rule, and may hold for more.
//! Matchers it cannot express (tags, lock state, `not`, key-date ages) count as "may match";
//! globs and regexes become the literal text every match must contain; time bounds are
//! widened by a second against rounding. `keep` rules are left out: a version only they could
//! match changes nothing.

use crate::inventory::{FilterParam, RowFilter, FIRST_FILTER_PARAM};
use crate::policy::{Action, AgeSource, Matcher, Policy, VersionScope};
use chrono::{DateTime, Duration, Utc};

/// The condition under which some rule of `policy` may match a version at `as_of`: per
/// version scope (in order of first use), the scope and any of its rules' conditions, so each
/// row tests its scope once. A rule with no expressible matcher contributes `true`.
pub fn filter(policy: &Policy, as_of: DateTime<Utc>) -> RowFilter {
    let mut b = Builder {
        params: Vec::new(),
        as_of,
        last_modified_age: matches!(policy.age, AgeSource::LastModified),
    };
    let mut scopes: Vec<(VersionScope, Vec<String>)> = Vec::new();
    // `keep` rules change nothing: only what a later rule may change needs deciding.
    for r in policy.rules.iter().filter(|r| r.then != Action::Keep) {
        let parts: Vec<String> = by_cost(&r.when).filter_map(|m| b.matcher(m)).collect();
        let rule = match parts.len() {
            0 => "true".to_string(),
            1 => parts.concat(),
            _ => format!("({})", parts.join(" AND ")),
        };
        match scopes.iter_mut().find(|(s, _)| *s == r.version) {
            Some((_, rules)) => rules.push(rule),
            None => scopes.push((r.version, vec![rule])),
        }
    }
    let sql: Vec<String> = scopes
        .iter()
        .map(|(s, rules)| format!("({} AND ({}))", scope(*s), rules.join(" OR ")))
        .collect();
    RowFilter {
        sql: match sql.is_empty() {
            true => "false".into(),
            false => sql.join(" OR "),
        },
        params: b.params,
    }
}

/// The versions a rule's version scope includes (as `evaluate::in_scope`).
fn scope(scope: VersionScope) -> &'static str {
    match scope {
        VersionScope::Current => "s.is_latest AND NOT s.is_delete_marker",
        VersionScope::Noncurrent => "NOT s.is_latest AND NOT s.is_delete_marker",
        VersionScope::DeleteMarker => "s.is_delete_marker AND s.key_versions = 1",
        VersionScope::Any => "(NOT s.is_delete_marker OR s.key_versions = 1)",
    }
}

struct Builder {
    params: Vec<FilterParam>,
    as_of: DateTime<Utc>,
    last_modified_age: bool,
}

impl Builder {
    fn param(&mut self, p: FilterParam) -> String {
        self.params.push(p);
        format!("${}", FIRST_FILTER_PARAM + self.params.len() - 1)
    }

    /// `s.key LIKE 'before literal after'`, the literal escaped. LIKE compares characters
    /// exactly, and costs half of `starts_with`, `right` or `strpos` per row.
    fn like(&mut self, before: &str, literal: &str, after: &str) -> String {
        let escaped: String = literal
            .chars()
            .flat_map(|c| match c {
                '\\' | '%' | '_' => vec!['\\', c],
                _ => vec![c],
            })
            .collect();
        let p = self.param(FilterParam::Text(format!("{before}{escaped}{after}")));
        format!("s.key LIKE {p}::text")
    }

    fn starts_with(&mut self, prefix: &str) -> String {
        self.like("", prefix, "%")
    }

    fn time(&mut self, t: DateTime<Utc>) -> String {
        self.param(FilterParam::Time(t)) + "::timestamptz"
    }

    /// SQL that holds whenever `m` may hold; `None` when it may always hold.
    fn matcher(&mut self, m: &Matcher) -> Option<String> {
        let slack = Duration::seconds(1);
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Some(match m {
            Matcher::KeyPrefix(p) => self.starts_with(p),
            Matcher::KeySuffix(x) => self.like("%", x, ""),
            Matcher::KeyGlob(g) => {
                let literal: String = g
                    .pattern
                    .chars()
                    .take_while(|c| !"*?[{\\".contains(*c))
                    .collect();
                (!literal.is_empty()).then(|| self.starts_with(&literal))?
            }
            Matcher::KeyRegex(r) => {
                let parts: Vec<String> = required_literals(&r.pattern)?
                    .into_iter()
                    .map(|l| self.like("%", &l, "%"))
                    .collect();
                format!("({})", parts.join(" OR "))
            }
            Matcher::SizeAtLeast(n) => {
                format!("s.size >= {}::int8", self.param(FilterParam::Int(int(*n))))
            }
            Matcher::SizeAtMost(n) => {
                format!("s.size <= {}::int8", self.param(FilterParam::Int(int(*n))))
            }
            Matcher::StorageClass(classes) => format!(
                "coalesce(s.storage_class, 'STANDARD') = ANY({}::text[])",
                self.param(FilterParam::Texts(classes.clone()))
            ),
            Matcher::ModifiedBefore(t) => format!("s.last_modified < {}", self.time(*t + slack)),
            Matcher::ModifiedAfter(t) => format!("s.last_modified > {}", self.time(*t - slack)),
            Matcher::OlderThan(d) if self.last_modified_age => {
                format!("s.last_modified < {}", self.time(self.as_of - *d + slack))
            }
            Matcher::YoungerThan(d) if self.last_modified_age => {
                format!("s.last_modified > {}", self.time(self.as_of - *d - slack))
            }
            Matcher::NoncurrentFor(d) => {
                format!(
                    "s.successor_modified < {}",
                    self.time(self.as_of - *d + slack)
                )
            }
            Matcher::NewerVersionsMoreThan(n) => {
                format!(
                    "s.newer_versions > {}::int8",
                    self.param(FilterParam::Int(i64::from(*n)))
                )
            }
            Matcher::NewerInFolderMoreThan(n) => {
                format!(
                    "s.newer_in_folder > {}::int8",
                    self.param(FilterParam::Int(i64::from(*n)))
                )
            }
            Matcher::All(list) => {
                let parts: Vec<String> = by_cost(list).filter_map(|m| self.matcher(m)).collect();
                (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))?
            }
            Matcher::Any(list) => {
                let mark = self.params.len();
                let parts: Option<Vec<String>> = list.iter().map(|m| self.matcher(m)).collect();
                let Some(parts) = parts else {
                    self.params.truncate(mark);
                    return None;
                };
                format!("({})", parts.join(" OR "))
            }
            _ => return None,
        })
    }
}

/// `matchers` (all of which must hold) cheapest first: PostgreSQL evaluates a conjunction
/// inside an OR in the order written and stops at the first false, so a time or size bound
/// spares most rows the pattern match.
fn by_cost(matchers: &[Matcher]) -> impl Iterator<Item = &Matcher> {
    fn cost(m: &Matcher) -> u8 {
        match m {
            Matcher::KeyPrefix(_) | Matcher::KeyGlob(_) | Matcher::StorageClass(_) => 1,
            Matcher::KeySuffix(_) | Matcher::KeyRegex(_) => 2,
            Matcher::Any(list) | Matcher::All(list) => list.iter().map(cost).max().unwrap_or(0),
            _ => 0,
        }
    }
    let mut sorted: Vec<&Matcher> = matchers.iter().collect();
    sorted.sort_by_key(|m| cost(m));
    sorted.into_iter()
}

/// Strings one of which every match of `pattern` starts with (so a key it matches contains
/// one); `None` when there is no such finite set of non-empty strings.
fn required_literals(pattern: &str) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::parse(pattern).ok()?;
    let mut seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    // Shortens literals to common prefixes where that makes fewer of them (still sound).
    seq.optimize_for_prefix_by_preference();
    let literals = seq.literals().filter(|l| l.len() <= 16)?;
    let texts: Option<Vec<String>> = literals
        .iter()
        .map(|l| {
            String::from_utf8(l.as_bytes().to_vec())
                .ok()
                .filter(|t| !t.is_empty())
        })
        .collect();
    texts.filter(|t| !t.is_empty())
}

/// Whether any rule of `policy` looks at versions other than current ones, so each version
/// needs its key's other versions (newer count, successor, sole version).
pub fn needs_version_context(policy: &Policy) -> bool {
    policy
        .rules
        .iter()
        .any(|r| r.version != VersionScope::Current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::evaluate::tests::{now, policy, rule, DELETE};

    #[test]
    fn expressible_matchers_become_sql_and_the_rest_may_always_match() {
        let p = policy(
            AgeSource::LastModified,
            vec![
                rule(
                    "a",
                    VersionScope::Current,
                    vec![
                        Matcher::KeyPrefix("logs/".into()),
                        Matcher::OlderThan(Duration::days(30)),
                    ],
                    DELETE,
                ),
                rule(
                    "b",
                    VersionScope::Noncurrent,
                    vec![Matcher::Any(vec![
                        Matcher::SizeAtMost(0),
                        Matcher::KeySuffix(".tmp".into()),
                    ])],
                    DELETE,
                ),
            ],
        );
        let f = filter(&p, now());
        assert_eq!(
            f.sql,
            "(s.is_latest AND NOT s.is_delete_marker AND ((s.last_modified < $6::timestamptz AND s.key LIKE $7::text))) \
             OR (NOT s.is_latest AND NOT s.is_delete_marker AND ((s.size <= $8::int8 OR s.key LIKE $9::text)))"
        );
        // The time bound is tested before the (dearer) pattern.
        assert_eq!(
            f.params[0],
            FilterParam::Time(now() - Duration::days(30) + Duration::seconds(1))
        );
        assert_eq!(f.params[1], FilterParam::Text("logs/%".into()));
        assert_eq!(f.params[3], FilterParam::Text("%.tmp".into()));
        assert!(needs_version_context(&p));
        let k = policy(
            AgeSource::LastModified,
            vec![
                rule(
                    "pin",
                    VersionScope::Current,
                    vec![Matcher::KeyPrefix("p/".into())],
                    Action::Keep,
                ),
                rule(
                    "re",
                    VersionScope::Current,
                    vec![Matcher::KeyRegex(
                        crate::policy::KeyRegex::new("(?:foo|bar)-[0-9]+").unwrap(),
                    )],
                    DELETE,
                ),
                rule(
                    "glob",
                    VersionScope::Current,
                    vec![Matcher::KeyGlob(
                        crate::policy::KeyGlob::new("logs/**/*.gz").unwrap(),
                    )],
                    DELETE,
                ),
                rule(
                    "any",
                    VersionScope::Current,
                    vec![Matcher::KeyRegex(
                        crate::policy::KeyRegex::new(".*x").unwrap(),
                    )],
                    DELETE,
                ),
            ],
        );
        let f = filter(&k, now());
        let current = "s.is_latest AND NOT s.is_delete_marker";
        assert_eq!(
            f.sql,
            format!("({current} AND ((s.key LIKE $6::text OR s.key LIKE $7::text) OR s.key LIKE $8::text OR true))")
        );
        assert_eq!(
            f.params,
            vec![
                FilterParam::Text("%foo-%".into()),
                FilterParam::Text("%bar-%".into()),
                FilterParam::Text("logs/%".into())
            ]
        );
        assert_eq!(
            filter(&policy(AgeSource::LastModified, vec![]), now()).sql,
            "false"
        );
    }

    #[test]
    fn like_patterns_escape_their_wildcards() {
        let p = policy(
            AgeSource::LastModified,
            vec![rule(
                "odd",
                VersionScope::Current,
                vec![Matcher::KeyPrefix("a_b%c\\d".into())],
                DELETE,
            )],
        );
        assert_eq!(
            filter(&p, now()).params,
            vec![FilterParam::Text("a\\_b\\%c\\\\d%".into())]
        );
    }
}
