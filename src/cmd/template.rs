//! Placeholder until the Go-template module lands: `json` and `{{.Field}}`
//! paths only.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template: {0}")]
    Invalid(String),
}

pub enum OutputFormat {
    Json,
    Table(String),
    Lines(String),
}

impl OutputFormat {
    pub fn parse(format: &str) -> Result<OutputFormat, TemplateError> {
        let format = format.replace("\\t", "\t").replace("\\n", "\n");
        if format == "json" {
            return Ok(OutputFormat::Json);
        }
        match format.strip_prefix("table ") {
            Some(rest) => Ok(OutputFormat::Table(rest.to_string())),
            None => Ok(OutputFormat::Lines(format)),
        }
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(value, |v, key| v.get(key))
}

fn render(text: &str, value: &Value) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| TemplateError::Invalid("unclosed action".into()))?;
        let action = rest[start + 2..start + end].trim();
        if action == "json ." {
            out.push_str(&value.to_string());
        } else {
            let path = action
                .strip_prefix('.')
                .ok_or_else(|| TemplateError::Invalid(format!("unsupported action {action}")))?;
            match lookup(value, path) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {
                    return Err(TemplateError::Invalid(format!(
                        "can't evaluate field {path}"
                    )));
                }
            }
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

pub fn render_rows(
    format: &OutputFormat,
    rows: &[Value],
    headers: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<String, TemplateError> {
    let _ = headers;
    let mut out = String::new();
    match format {
        OutputFormat::Json => {
            out = serde_json::to_string_pretty(rows).unwrap_or_default();
            out.push('\n');
        }
        OutputFormat::Table(t) | OutputFormat::Lines(t) => {
            for row in rows {
                out.push_str(&render(t, row)?);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

pub fn render_one(template_text: &str, value: &Value) -> Result<String, TemplateError> {
    let text = template_text.replace("\\t", "\t").replace("\\n", "\n");
    Ok(format!("{}\n", render(&text, value)?))
}
