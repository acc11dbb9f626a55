//! Reading an incidents file: CSV with a header row, or JSON Lines; every
//! error names the file and row.

use std::collections::HashMap;
use std::path::Path;

use super::{Incident, IncidentError, IncidentSpan, Incidents};

const COLUMNS: [&str; 7] = [
    "start",
    "end",
    "file",
    "first_line",
    "last_line",
    "source",
    "note",
];
const TIME_COLUMNS: [&str; 2] = ["start", "end"];
const LINE_COLUMNS: [&str; 3] = ["file", "first_line", "last_line"];

/// Reads an incidents file (CSV with a header, or JSON Lines). Times
/// written without a zone are in `timezone`.
///
/// # Errors
/// [`IncidentError`] naming the file and row: a missing or empty file, a
/// missing or unknown header column, a malformed row (bad time, missing
/// column, line number not a positive integer, both forms in one row), an
/// end before its start.
pub fn read_incidents(
    path: &Path,
    timezone: &jiff::tz::TimeZone,
) -> Result<Incidents, IncidentError> {
    let bytes = std::fs::read(path).map_err(|error| IncidentError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let rows = if first.is_none() {
        Vec::new()
    } else if first == Some(&b'{') {
        json_rows(path, bytes)?
    } else {
        csv_rows(path, bytes)?
    };
    if rows.is_empty() {
        return Err(IncidentError::Empty {
            path: path.to_path_buf(),
        });
    }
    let items = rows
        .iter()
        .map(|(row, fields)| parse_row(path, *row, fields, timezone))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Incidents {
        path: path.to_path_buf(),
        items,
        warnings: Vec::new(),
    })
}

/// A row's non-empty fields by (lowercase) column name.
type Fields = HashMap<String, String>;

fn bad(path: &Path, row: usize, reason: impl Into<String>) -> IncidentError {
    IncidentError::BadRow {
        path: path.to_path_buf(),
        row,
        reason: reason.into(),
    }
}

fn unknown_columns(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !COLUMNS.contains(&n.as_str()))
        .map(|n| format!("'{n}'"))
        .collect()
}

fn unknown_error(path: &Path, row: usize, unknown: &[String]) -> IncidentError {
    bad(
        path,
        row,
        format!(
            "unknown column(s) {}; the columns are {}",
            unknown.join(", "),
            COLUMNS.join(", ")
        ),
    )
}

fn csv_rows(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, Fields)>, IncidentError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let csv_err = |e: csv::Error| {
        let row = e.position().map_or(0, |p| p.line() as usize);
        bad(path, row, format!("not readable as CSV: {e}"))
    };
    let mut records = reader.records();
    let Some(header) = records.next() else {
        return Err(IncidentError::Empty {
            path: path.to_path_buf(),
        });
    };
    let header = header.map_err(csv_err)?;
    let header_row = header.position().map_or(1, |p| p.line() as usize);
    let names: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
    if !names.iter().any(|n| COLUMNS.contains(&n.as_str())) {
        return Err(bad(
            path,
            header_row,
            format!(
                "the first row must be a header naming the columns ('start,end' for times or 'file,first_line,last_line' for lines, plus optional 'source' and 'note'); found {:?}",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let unknown = unknown_columns(&names);
    if !unknown.is_empty() {
        return Err(unknown_error(path, header_row, &unknown));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(bad(path, header_row, format!("column '{n}' appears twice")));
        }
    }
    check_forms(path, header_row, &names)?;
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_err)?;
        let row = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() > names.len() {
            return Err(bad(
                path,
                row,
                format!(
                    "{} fields, but the header names {} columns ({})",
                    record.len(),
                    names.len(),
                    names.join(",")
                ),
            ));
        }
        let fields: Fields = names
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.clone(), v.to_string()))
            .collect();
        rows.push((row, fields));
    }
    Ok(rows)
}

/// The header (or a JSON object's keys) must hold one form completely and
/// no part of a form it does not complete.
fn check_forms(path: &Path, row: usize, names: &[String]) -> Result<(), IncidentError> {
    let has = |c: &str| names.iter().any(|n| n == c);
    for form in [&TIME_COLUMNS[..], &LINE_COLUMNS[..]] {
        let present: Vec<&str> = form.iter().copied().filter(|c| has(c)).collect();
        if !present.is_empty() && present.len() < form.len() {
            let missing: Vec<String> = form
                .iter()
                .filter(|c| !has(c))
                .map(|c| format!("'{c}'"))
                .collect();
            return Err(bad(
                path,
                row,
                format!(
                    "the header names '{}' but not {} ({} go together)",
                    present.join("', '"),
                    missing.join(", "),
                    form.join(",")
                ),
            ));
        }
    }
    if !has("start") && !has("file") {
        return Err(bad(
            path,
            row,
            "the header names neither 'start,end' (time form) nor 'file,first_line,last_line' (line form)",
        ));
    }
    Ok(())
}

fn json_rows(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, Fields)>, IncidentError> {
    let mut rows = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let row = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| bad(path, row, format!("not a JSON object: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(bad(
                path,
                row,
                "expected one JSON object per line (JSON Lines)",
            ));
        };
        let names: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
        let unknown = unknown_columns(&names);
        if !unknown.is_empty() {
            return Err(unknown_error(path, row, &unknown));
        }
        let mut fields = Fields::new();
        for (key, value) in map {
            let key = key.to_ascii_lowercase();
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                other => {
                    return Err(bad(
                        path,
                        row,
                        format!("'{key}' must be a string or a number, found {other}"),
                    ))
                }
            };
            if !text.is_empty() && fields.insert(key.clone(), text).is_some() {
                return Err(bad(path, row, format!("'{key}' appears twice")));
            }
        }
        rows.push((row, fields));
    }
    Ok(rows)
}

fn parse_row(
    path: &Path,
    row: usize,
    fields: &Fields,
    timezone: &jiff::tz::TimeZone,
) -> Result<Incident, IncidentError> {
    let get = |c: &str| fields.get(c).map(String::as_str);
    let given = |cs: &[&str]| cs.iter().any(|c| get(c).is_some());
    let need = |c: &str, form: &str| {
        get(c).ok_or_else(|| {
            bad(
                path,
                row,
                format!("missing '{c}' (the {form} form needs it)"),
            )
        })
    };
    let span = match (given(&TIME_COLUMNS), given(&LINE_COLUMNS)) {
        (true, true) => {
            return Err(bad(
                path,
                row,
                "the row gives both a time ('start','end') and lines ('file','first_line','last_line'); one row is one incident in one form",
            ))
        }
        (false, false) => {
            return Err(bad(
                path,
                row,
                "missing columns: give 'start' and 'end' (time form) or 'file', 'first_line' and 'last_line' (line form)",
            ))
        }
        (true, false) => {
            let instant = |c: &str| -> Result<i64, IncidentError> {
                let text = need(c, "time")?;
                needle_timestamps::parse_instant(text, timezone)
                    .map_err(|e| bad(path, row, format!("{c} {text:?} is not a time: {e}")))
            };
            let (start, end) = (instant("start")?, instant("end")?);
            if end < start {
                return Err(bad(
                    path,
                    row,
                    format!(
                        "end {:?} is before start {:?}",
                        get("end").unwrap_or_default(),
                        get("start").unwrap_or_default()
                    ),
                ));
            }
            IncidentSpan::Time { start, end }
        }
        (false, true) => {
            let file = need("file", "line")?.to_string();
            let number = |c: &str| -> Result<usize, IncidentError> {
                let text = need(c, "line")?;
                let n: usize = text.parse().map_err(|_| {
                    bad(
                        path,
                        row,
                        format!("{c} {text:?} is not a line number (1-based)"),
                    )
                })?;
                if n == 0 {
                    return Err(bad(
                        path,
                        row,
                        format!("{c} is 0; lines are numbered from 1"),
                    ));
                }
                Ok(n)
            };
            let (first_line, last_line) = (number("first_line")?, number("last_line")?);
            if last_line < first_line {
                return Err(bad(
                    path,
                    row,
                    format!("last_line {last_line} is before first_line {first_line}"),
                ));
            }
            IncidentSpan::Lines {
                file,
                first_line,
                last_line,
            }
        }
    };
    Ok(Incident {
        span,
        source: get("source").map(str::to_string),
        note: get("note").map(str::to_string),
        row,
    })
}
