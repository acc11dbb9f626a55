//! Every row `needle score` writes, on real data in every output mode,
//! validates against the checked-in schema docs/output.schema.json.
//!
//! The validator below covers the JSON Schema (draft 2020-12) keywords that
//! schema uses and refuses any other, so the schema cannot silently grow a
//! keyword this test ignores. (The `jsonschema` crate took over 8 minutes to
//! build on the 2-core CI machine; the schema was also checked once with
//! Python's `jsonschema` 4.26, Draft202012Validator.)

mod common;

use std::collections::BTreeSet;

use common::{bgl_8k, bgl_8k_file, joined, rows, score, temp_file, Row};
use serde_json::Value;

const SCHEMA: &str = include_str!("../../../docs/output.schema.json");

const ANNOTATIONS: [&str; 5] = ["$schema", "title", "description", "$comment", "format"];

struct Validator<'s> {
    root: &'s Value,
}

impl<'s> Validator<'s> {
    fn resolve(&self, reference: &str) -> &'s Value {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
        &self.root["$defs"][name]
    }

    /// Errors of `value` against `schema`, with their JSON paths.
    fn errors(&self, schema: &'s Value, value: &Value, path: &str, out: &mut Vec<String>) {
        let Some(schema) = schema.as_object() else {
            panic!("schema at {path} is not an object");
        };
        for (keyword, arg) in schema {
            match keyword.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "$defs" => {}
                "$ref" => self.errors(self.resolve(arg.as_str().unwrap()), value, path, out),
                "oneOf" => {
                    let passing = arg
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|s| {
                            let mut e = Vec::new();
                            self.errors(s, value, path, &mut e);
                            e.is_empty()
                        })
                        .count();
                    if passing != 1 {
                        out.push(format!("{path}: matches {passing} of oneOf"));
                    }
                }
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                        _ => panic!("bad type at {path}"),
                    };
                    if !types.iter().any(|t| has_type(value, t)) {
                        out.push(format!("{path}: {value} is not {types:?}"));
                    }
                }
                "const" => {
                    if value != arg {
                        out.push(format!("{path}: {value} is not {arg}"));
                    }
                }
                "enum" => {
                    if !arg.as_array().unwrap().contains(value) {
                        out.push(format!("{path}: {value} not in {arg}"));
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(v), Some(bound)) = (value.as_f64(), arg.as_f64()) {
                        let ok = if keyword == "minimum" {
                            v >= bound
                        } else {
                            v <= bound
                        };
                        if !ok {
                            out.push(format!("{path}: {v} violates {keyword} {bound}"));
                        }
                    }
                }
                "properties" => {
                    if let Some(obj) = value.as_object() {
                        for (name, sub) in arg.as_object().unwrap() {
                            if let Some(v) = obj.get(name) {
                                self.errors(sub, v, &format!("{path}.{name}"), out);
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(obj) = value.as_object() {
                        for name in arg.as_array().unwrap() {
                            if !obj.contains_key(name.as_str().unwrap()) {
                                out.push(format!("{path}: missing {name}"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    assert_eq!(arg, &Value::Bool(false), "only additionalProperties: false");
                    let known = schema.get("properties").and_then(Value::as_object);
                    if let Some(obj) = value.as_object() {
                        for name in obj.keys() {
                            if !known.is_some_and(|k| k.contains_key(name)) {
                                out.push(format!("{path}: unexpected property {name}"));
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, v) in items.iter().enumerate() {
                            self.errors(arg, v, &format!("{path}[{i}]"), out);
                        }
                    }
                }
                other => panic!("schema keyword {other} at {path} is not supported by this test"),
            }
        }
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_u64() || value.is_i64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        other => panic!("unknown type {other}"),
    }
}

fn schema() -> Value {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    schema
}

fn check(rows: &[Row], raw: &[u8], schema: &Value, seen: &mut BTreeSet<String>) {
    let v = Validator { root: schema };
    for (line, row) in std::str::from_utf8(raw).unwrap().lines().zip(rows) {
        let value: Value = serde_json::from_str(line).unwrap();
        let mut errors = Vec::new();
        v.errors(schema, &value, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}\nin {line}");
        seen.insert(row.kind.clone());
        for key in ["first_time", "last_time"] {
            match &row.data[key] {
                Value::String(_) => {
                    seen.insert(format!("{key}:string"));
                }
                Value::Null => {
                    seen.insert(format!("{key}:null"));
                }
                _ => {}
            }
        }
    }
}

#[test]
fn every_output_row_matches_the_schema() {
    let schema = schema();
    let file = bgl_8k_file("schema");
    let mut seen = BTreeSet::new();
    // Real data, every row type: alerts with times, windows, the summary.
    for args in [
        &[][..],
        &["--windows"],
        &["--alerts-only"],
        &["--summary-only"],
    ] {
        let out = score(args, &[&file], b"");
        assert_eq!(out.status.code(), Some(1));
        check(&rows(&out), &out.stdout, &schema, &mut seen);
    }
    // stdin without timestamps, invalid UTF-8, a flushed window and two files.
    let mut lines: Vec<Vec<u8>> = bgl_8k().0[..40]
        .iter()
        .map(|l| l.splitn(3, |&b| b == b' ').nth(2).unwrap().to_vec())
        .collect();
    lines[3] = b"bad \xff bytes \x1b[31m".to_vec();
    let other = temp_file("schema", "plain.log", &joined(&lines));
    let out = score(
        &["--windows", "--threshold", "0", "--flush-after", "1h", "-"],
        &[&other],
        &joined(&lines),
    );
    check(&rows(&out), &out.stdout, &schema, &mut seen);
    for kind in [
        "alert",
        "bag",
        "summary",
        "first_time:string",
        "first_time:null",
    ] {
        assert!(seen.contains(kind), "no {kind} row was checked: {seen:?}");
    }
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let schema = schema();
    let v = Validator { root: &schema };
    let bad = [
        r#"{"type":"alert","data":{}}"#,
        r#"{"type":"nope","data":{}}"#,
        r#"{"type":"summary","data":{"lines":1,"bags":1,"anomalous_bags":0,"flushed_bags":0,"alerts":0,"unfamiliar":0,"threshold":0.5,"model_threshold":0.5,"files":[],"long_lines":0,"non_utf8_lines":0,"interrupted":false,"extra":1}}"#,
        r#"{"type":"summary","data":{"lines":-1,"bags":1,"anomalous_bags":0,"flushed_bags":0,"alerts":0,"unfamiliar":0,"threshold":0.5,"model_threshold":0.5,"files":[],"long_lines":0,"non_utf8_lines":0,"interrupted":false}}"#,
    ];
    for row in bad {
        let mut errors = Vec::new();
        v.errors(
            &schema,
            &serde_json::from_str(row).unwrap(),
            "$",
            &mut errors,
        );
        assert!(!errors.is_empty(), "accepted {row}");
    }
    let good = r#"{"type":"summary","data":{"lines":1,"bags":1,"anomalous_bags":0,"flushed_bags":0,"alerts":0,"unfamiliar":0,"threshold":0.5,"model_threshold":0.5,"files":[{"file":"-","lines":1,"timestamps":null}],"long_lines":0,"non_utf8_lines":0,"interrupted":false}}"#;
    let mut errors = Vec::new();
    v.errors(
        &schema,
        &serde_json::from_str(good).unwrap(),
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn documented_examples_match_the_schema() {
    let schema = schema();
    let v = Validator { root: &schema };
    let doc = include_str!("../../../docs/output.md");
    let mut kinds = BTreeSet::new();
    for block in doc.split("```json\n").skip(1) {
        let example = block.split("```").next().unwrap();
        let value: Value = serde_json::from_str(example)
            .unwrap_or_else(|e| panic!("docs/output.md example does not parse: {e}\n{example}"));
        let mut errors = Vec::new();
        v.errors(&schema, &value, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}\nin {example}");
        kinds.insert(value["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["alert", "bag", "summary"]
    );
}

#[test]
fn rows_built_from_the_row_types_match_the_schema() {
    use needle_host::rows::{
        AlertRow, BagRow, EvidenceRow, FileRow, PeakRow, Row, SummaryRow, TopRow,
    };
    let schema = schema();
    let v = Validator { root: &schema };
    let top = |time: Option<&str>| TopRow {
        line: 7,
        weight: 0.5,
        text: "RAS KERNEL FATAL".to_owned(),
        lossy: time.is_none(),
        time: time.map(str::to_owned),
    };
    let alert = |times: bool, evidence: bool| AlertRow {
        file: "a.log".to_owned(),
        first_line: 1,
        last_line: 48,
        first_time: times.then(|| "2005-06-03T15:42:50Z".to_owned()),
        last_time: times.then(|| "2005-06-03T15:43:00Z".to_owned()),
        score: 0.97,
        windows: 2,
        peak: PeakRow {
            first_line: 1,
            last_line: 32,
        },
        top: vec![top(Some("2005-06-03T15:42:50Z")), top(None)],
        evidence: evidence.then_some(EvidenceRow {
            without_line: 7,
            score_without: 0.1,
        }),
        continued: !times,
    };
    let rows = [
        Row::Bag(BagRow {
            file: "-".to_owned(),
            first_line: 1,
            last_line: 32,
            score: 0.25,
            anomalous: false,
            flushed: true,
            unfamiliar_lines: 3,
            top: vec![top(None)],
        }),
        Row::Alert(alert(true, true)),
        Row::Alert(alert(false, false)),
        Row::Summary(SummaryRow {
            lines: 48,
            bags: 2,
            anomalous_bags: 2,
            flushed_bags: 0,
            alerts: 1,
            unfamiliar: 0,
            threshold: 0.5,
            model_threshold: 0.4,
            files: vec![
                FileRow {
                    file: "a.log".to_owned(),
                    lines: 40,
                    timestamps: Some("epoch seconds".to_owned()),
                },
                FileRow {
                    file: "-".to_owned(),
                    lines: 8,
                    timestamps: None,
                },
            ],
            long_lines: 0,
            non_utf8_lines: 1,
            interrupted: true,
        }),
    ];
    for row in &rows {
        let line = row.to_json_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        let mut errors = Vec::new();
        v.errors(&schema, &value, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}\nin {line}");
    }
}
