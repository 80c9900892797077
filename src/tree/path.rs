//! `YamlPath`: the name of a place in a config, as every message shows it
//! (`scrape_configs[job_name=example_job].basic_auth.password`).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    Key(String),
    /// A sequence item, with the `job_name`/`name` that identifies it to a reader when it has one.
    Item {
        index: usize,
        label: Option<(String, String)>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YamlPath {
    segments: Vec<PathSegment>,
}

impl YamlPath {
    #[must_use]
    pub fn root() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Key(key.to_owned()));
        Self { segments }
    }

    #[must_use]
    pub fn item(&self, index: usize, label: Option<(String, String)>) -> Self {
        let mut segments = self.segments.clone();
        segments.push(PathSegment::Item { index, label });
        Self { segments }
    }

    /// Descends in place (for walks that visit every node without a path allocation each).
    pub fn push(&mut self, segment: PathSegment) {
        self.segments.push(segment);
    }

    /// Undoes the last [`YamlPath::push`], handing back its segment.
    pub fn pop(&mut self) -> Option<PathSegment> {
        self.segments.pop()
    }

    #[must_use]
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// The last key of the path: the field name a value sits under.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        match self.segments.last() {
            Some(PathSegment::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// The path of the enclosing node.
    #[must_use]
    pub fn parent(&self) -> Self {
        let mut segments = self.segments.clone();
        segments.pop();
        Self { segments }
    }

    /// A readable, file-name-safe rendering: keys joined by dots, a labelled item standing for
    /// its sequence (`scrape_configs[job_name=node].basic_auth.password` → `node.basic_auth.password`).
    #[must_use]
    pub fn slug(&self) -> String {
        let mut parts: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(self.segments.len());
        for segment in &self.segments {
            match segment {
                PathSegment::Key(key) => parts.push(key.as_str().into()),
                PathSegment::Item { label: Some((_, name)), .. } => {
                    parts.pop();
                    parts.push(name.as_str().into());
                }
                PathSegment::Item { index, label: None } => parts.push(index.to_string().into()),
            }
        }
        let mut slug = String::with_capacity(parts.iter().map(|part| part.len() + 1).sum());
        for (position, part) in parts.iter().enumerate() {
            if position > 0 {
                slug.push('.');
            }
            slug.extend(
                part.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }),
            );
        }
        let leading_dots = slug.len() - slug.trim_start_matches('.').len();
        slug.drain(..leading_dots);
        if slug.len() > 120 {
            slug.truncate(120);
        }
        if slug.is_empty() { "root".to_owned() } else { slug }
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/'))
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("(document root)");
        }
        for (position, segment) in self.segments.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if is_bare_key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                PathSegment::Key(key) => write!(f, "[{key:?}]")?,
                PathSegment::Item { label: Some((field, name)), .. } => write!(f, "[{field}={name}]")?,
                PathSegment::Item { index, label: None } => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str) -> Option<(String, String)> {
        Some(("job_name".into(), name.into()))
    }

    #[test]
    fn displays_like_the_contract() {
        let cases = [
            (
                YamlPath::root().key("scrape_configs").item(0, job("example_job")).key("basic_auth").key("password"),
                "scrape_configs[job_name=example_job].basic_auth.password",
                "example_job.basic_auth.password",
            ),
            (
                YamlPath::root().key("route").key("routes").item(2, None).key("receiver"),
                "route.routes[2].receiver",
                "route.routes.2.receiver",
            ),
            (YamlPath::root().key("weird.key").key("x"), "[\"weird.key\"].x", "weird.key.x"),
            (YamlPath::root().key("a b/c"), "[\"a b/c\"]", "a_b_c"),
            (YamlPath::root(), "(document root)", "root"),
        ];
        for (path, shown, slug) in cases {
            assert_eq!(path.to_string(), shown);
            assert_eq!(path.slug(), slug);
        }
    }
}
