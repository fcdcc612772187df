//! Dataset groups (`spec.group.pattern`): keys that share the text a pattern such as
//! `datasets/{name}/` matches at their start belong to one group, decided as a whole.

use regex::Regex;

/// A compiled group pattern.
#[derive(Debug, Clone)]
pub struct GroupPattern {
    pub pattern: String,
    regex: Regex,
    /// The same match as a PostgreSQL regular expression whose first group is the group key.
    pub sql: String,
}

impl PartialEq for GroupPattern {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl GroupPattern {
    /// Compiles literal text and `{placeholders}` (each one path segment), ending in `/`.
    pub fn new(pattern: &str) -> Result<GroupPattern, String> {
        if !pattern.ends_with('/') {
            return Err(format!(
                "group pattern {pattern:?} must end with '/', so a group is a folder"
            ));
        }
        let mut re = String::new();
        let mut rest = pattern;
        let mut placeholders = 0;
        while let Some(open) = rest.find('{') {
            re.push_str(&regex::escape(&rest[..open]));
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| format!("unclosed '{{' in group pattern {pattern:?}"))?;
            let name = &rest[open + 1..close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "placeholder {{{name}}} in group pattern {pattern:?} needs a name of letters, digits and '_'"
                ));
            }
            re.push_str("[^/]+");
            placeholders += 1;
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unmatched '}}' in group pattern {pattern:?}"));
        }
        re.push_str(&regex::escape(rest));
        if placeholders == 0 {
            return Err(format!(
                "group pattern {pattern:?} has no placeholder such as {{name}}, so every key would be one group"
            ));
        }
        let regex = Regex::new(&format!("^{re}")).map_err(|e| e.to_string())?;
        Ok(GroupPattern {
            pattern: pattern.to_string(),
            regex,
            sql: format!("^({re})"),
        })
    }

    /// The group `key` belongs to (the text the pattern matched), if any.
    pub fn group_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        self.regex.find(key).map(|m| m.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_the_folder_the_pattern_matches_at_the_start_of_the_key() {
        let g = GroupPattern::new("datasets/{name}/").unwrap();
        assert_eq!(g.group_of("datasets/cats/a/b.bin"), Some("datasets/cats/"));
        assert_eq!(g.group_of("datasets/x.bin"), None);
        assert_eq!(g.group_of("old/datasets/cats/a"), None);
        assert_eq!(g.sql, "^(datasets/[^/]+/)");
        let two = GroupPattern::new("teams/{team}/runs.v2/{run}/").unwrap();
        assert_eq!(
            two.group_of("teams/a/runs.v2/7/ckpt"),
            Some("teams/a/runs.v2/7/")
        );
        assert_eq!(two.group_of("teams/a/runsXv2/7/ckpt"), None);
        assert_eq!(two.sql, "^(teams/[^/]+/runs\\.v2/[^/]+/)");
        for bad in [
            "datasets/{name}",
            "datasets/",
            "d/{na me}/",
            "d/{name/",
            "d/name}/",
        ] {
            assert!(GroupPattern::new(bad).is_err(), "{bad}");
        }
    }
}
