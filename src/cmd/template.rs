//! `--format` for every command that takes it: `json`, `table TEMPLATE`
//! (a header row, then one row per item) and plain templates. A small
//! subset of Go's text/template: `{{.Field}}` and `{{.A.B}}` paths and
//! `{{json .}}`; anything else is refused with a clear error. The full Go
//! template language (pipelines, range, functions) is not implemented yet.

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
    let mut out = String::new();
    if let OutputFormat::Table(t) = format {
        out.push_str(&header_row(t, headers));
        out.push('\n');
    }
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

/// The header of a `table` template: each `{{.Field}}` becomes the
/// command's name for it, or the field name in capitals.
fn header_row(text: &str, headers: &dyn Fn(&str) -> Option<&'static str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let action = rest[start + 2..start + end].trim();
        let field = action.strip_prefix('.').unwrap_or(action);
        out.push_str(
            &headers(field)
                .map(String::from)
                .unwrap_or_else(|| field.to_uppercase()),
        );
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

pub fn render_one(template_text: &str, value: &Value) -> Result<String, TemplateError> {
    let text = template_text.replace("\\t", "\t").replace("\\n", "\n");
    Ok(format!("{}\n", render(&text, value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_tables_and_json_render() {
        let rows = vec![json!({"ID": "abc", "State": {"Pid": 7}})];
        let none = |_: &str| None;
        let lines = OutputFormat::parse("{{.ID}}\\t{{.State.Pid}}").unwrap();
        assert_eq!(render_rows(&lines, &rows, &none).unwrap(), "abc\t7\n");
        let table = OutputFormat::parse("table {{.ID}} {{.State}}").unwrap();
        let named = |f: &str| (f == "ID").then_some("CONTAINER ID");
        let out = render_rows(&table, &rows, &named).unwrap();
        assert!(out.starts_with("CONTAINER ID STATE\n"), "{out}");
        let err = render_one("{{.Nope}}", &rows[0]).unwrap_err().to_string();
        assert!(err.contains("Nope"), "{err}");
        assert!(render_one("{{range .}}{{end}}", &rows[0]).is_err());
        assert!(render_one("{{json .State}}", &rows[0]).is_err());
    }
}
