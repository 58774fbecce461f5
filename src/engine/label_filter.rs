//! `--filter label=KEY[=VALUE]`, the same for containers, images and
//! volumes: the key must be there, with that value when one is given.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelFilter {
    pub key: String,
    pub value: Option<String>,
}

impl LabelFilter {
    /// The filter's value after `label=`.
    pub fn parse(text: &str) -> LabelFilter {
        match text.split_once('=') {
            Some((key, value)) => LabelFilter {
                key: key.to_string(),
                value: Some(value.to_string()),
            },
            None => LabelFilter {
                key: text.to_string(),
                value: None,
            },
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match &self.value {
            Some(value) => labels.get(&self.key) == Some(value),
            None => labels.contains_key(&self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_alone_or_with_its_value() {
        let labels: BTreeMap<String, String> = [("tier".into(), "web".into())].into();
        assert!(LabelFilter::parse("tier").matches(&labels));
        assert!(LabelFilter::parse("tier=web").matches(&labels));
        assert!(!LabelFilter::parse("tier=db").matches(&labels));
        assert!(!LabelFilter::parse("owner").matches(&labels));
        assert_eq!(
            LabelFilter::parse("a=b=c"),
            LabelFilter {
                key: "a".into(),
                value: Some("b=c".into())
            }
        );
    }
}
