//! The `needle` Python package: load a needle model file, score log lines in
//! one call (numpy arrays per window) or as a stream, and raise alerts as
//! `needle score` does (same merging, blamed lines, timestamps and evidence:
//! the library's `needle_host`). Scoring runs without the GIL.
//! docs/python.md documents the API; needle.pyi types it.

mod core;
mod owned;

use std::borrow::Cow;
use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};

use crate::core::{Column, Core, Options};
use crate::owned::Loaded;
use needle_host::rows::{AlertRow, BagRow};

create_exception!(
    needle,
    ModelError,
    PyValueError,
    "A model file the runtime rejects (truncated, corrupted, wrong format version...)."
);

/// Lines copied out of Python objects, so they can be scored without the GIL.
#[derive(Default)]
struct Lines {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Lines {
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.data[start..end];
            start = end;
            line
        })
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// A line's bytes: `bytes` as they are, `str` as UTF-8 (lone surrogates,
/// as from `surrogateescape` decoding, turn back into their bytes). One
/// trailing `\n`, then one `\r`, are removed, as the CLI reads lines.
fn line_bytes<'a>(item: &'a Bound<'_, PyAny>, index: usize) -> PyResult<Cow<'a, [u8]>> {
    let mut bytes: Cow<'a, [u8]> = if let Ok(b) = item.downcast::<PyBytes>() {
        Cow::Borrowed(b.as_bytes())
    } else if let Ok(s) = item.downcast::<PyString>() {
        match s.to_str() {
            Ok(text) => Cow::Borrowed(text.as_bytes()),
            Err(_) => {
                let b = s.call_method1("encode", ("utf-8", "surrogateescape"))?;
                Cow::Owned(b.downcast::<PyBytes>()?.as_bytes().to_vec())
            }
        }
    } else if let Ok(b) = item.downcast::<PyByteArray>() {
        Cow::Owned(b.to_vec())
    } else {
        return Err(PyTypeError::new_err(format!(
            "line {}: expected str or bytes, got {}",
            index + 1,
            type_name(item)
        )));
    };
    for end in [b'\n', b'\r'] {
        if bytes.last() == Some(&end) {
            match &mut bytes {
                Cow::Borrowed(b) => *b = &b[..b.len() - 1],
                Cow::Owned(b) => {
                    b.pop();
                }
            }
        }
    }
    Ok(bytes)
}

fn collect_lines(lines: &Bound<'_, PyAny>) -> PyResult<Lines> {
    if lines.is_instance_of::<PyString>() || lines.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "expected an iterable of lines (str or bytes), got a single {}; wrap it in a list",
            type_name(lines)
        )));
    }
    let mut out = Lines::default();
    if let Ok(n) = lines.len() {
        out.ends.reserve(n);
    }
    let iter = lines.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected an iterable of lines (str or bytes), got {}",
            type_name(lines)
        ))
    })?;
    for (index, item) in iter.enumerate() {
        let item = item?;
        let bytes = line_bytes(&item, index)?;
        out.data.extend_from_slice(&bytes);
        out.ends.push(out.data.len());
    }
    Ok(out)
}

/// A JSON value of a row as Python objects (dict, list, int, float, str,
/// bool, None).
fn to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, item) in map {
                d.set_item(k, to_py(py, item)?)?;
            }
            d.into_any()
        }
    })
}

/// A row's `data` as a dict, its `file` the `source=` given (None without).
fn row_dict<'py>(
    py: Python<'py>,
    mut data: serde_json::Value,
    source: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let file = source.map_or(serde_json::Value::Null, serde_json::Value::from);
    if let Some(map) = data.as_object_mut() {
        if map.contains_key("file") {
            map.insert("file".to_owned(), file.clone());
        }
        if let Some(files) = map
            .get_mut("files")
            .and_then(serde_json::Value::as_array_mut)
        {
            for f in files
                .iter_mut()
                .filter_map(serde_json::Value::as_object_mut)
            {
                f.insert("file".to_owned(), file.clone());
            }
        }
    }
    Ok(to_py(py, &data)?.downcast_into::<PyDict>()?)
}

/// An alert as the `data` of `needle score`'s `alert` row (docs/output.md).
fn alert_dict<'py>(
    py: Python<'py>,
    a: &AlertRow,
    source: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    row_dict(py, serde_json::to_value(a).unwrap_or_default(), source)
}

/// The `data` of `needle score`'s `summary` row, for this one input.
fn summary_dict<'py>(
    py: Python<'py>,
    core: &Core,
    source: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    row_dict(
        py,
        serde_json::to_value(core.summary()).unwrap_or_default(),
        source,
    )
}

/// A needle model file, validated and ready to score.
#[pyclass(name = "Model", module = "needle", frozen)]
struct PyModel {
    loaded: Arc<Loaded>,
}

fn load(bytes: Vec<u8>) -> PyResult<PyModel> {
    let loaded = Loaded::new(bytes).map_err(|e| ModelError::new_err(e.to_string()))?;
    Ok(PyModel {
        loaded: Arc::new(loaded),
    })
}

fn read_path(path: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let os = path.py().import("os")?;
    let fspath = os.call_method1("fspath", (path,)).map_err(|_| {
        PyTypeError::new_err(format!(
            "expected model bytes or a path (str or os.PathLike), got {}",
            type_name(path)
        ))
    })?;
    let name: std::path::PathBuf = fspath.extract()?;
    std::fs::read(&name).map_err(|e| {
        let msg = format!("reading {}: {e}", name.display());
        match e.kind() {
            std::io::ErrorKind::NotFound => pyo3::exceptions::PyFileNotFoundError::new_err(msg),
            _ => pyo3::exceptions::PyOSError::new_err(msg),
        }
    })
}

fn model_bytes(source: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = source.downcast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else if let Ok(b) = source.downcast::<PyByteArray>() {
        Ok(b.to_vec())
    } else if source.hasattr("tobytes")? && !source.is_instance_of::<PyString>() {
        // memoryview, numpy arrays of bytes
        let b = source.call_method0("tobytes")?;
        Ok(b.downcast::<PyBytes>()?.as_bytes().to_vec())
    } else {
        read_path(source)
    }
}

impl PyModel {
    fn options(
        &self,
        threshold: Option<f32>,
        timezone: Option<&str>,
        timestamp_format: Option<&str>,
        year: Option<i16>,
    ) -> PyResult<Options> {
        Options::new(&self.loaded, threshold, timezone, timestamp_format, year)
            .map_err(PyValueError::new_err)
    }

    fn core(&self, options: &Options, as_rows: bool, source: Option<&str>) -> PyResult<Core> {
        Core::new(Arc::clone(&self.loaded), options, as_rows, source)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

#[pymethods]
impl PyModel {
    /// Loads a model from its bytes (`bytes`, `bytearray`, `memoryview`) or
    /// from a path (`str` or `os.PathLike`).
    #[new]
    fn new(source: &Bound<'_, PyAny>) -> PyResult<Self> {
        load(model_bytes(source)?)
    }

    /// Loads a model from the bytes of a model file.
    #[staticmethod]
    fn from_bytes(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        if data.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "from_bytes expects bytes, not str (use Model.from_path for a path)",
            ));
        }
        load(model_bytes(data)?)
    }

    /// Loads a model file.
    #[staticmethod]
    fn from_path(path: &Bound<'_, PyAny>) -> PyResult<Self> {
        load(read_path(path)?)
    }

    /// Lines per window.
    #[getter]
    fn window(&self) -> u16 {
        self.loaded.model().config().window
    }

    /// Lines between the starts of two windows.
    #[getter]
    fn stride(&self) -> u16 {
        self.loaded.model().config().stride
    }

    /// Top lines reported per window.
    #[getter]
    fn top_k(&self) -> u16 {
        self.loaded.model().config().top_k
    }

    /// The decision threshold stored in the model file.
    #[getter]
    fn threshold(&self) -> f64 {
        f64::from(self.loaded.model().threshold())
    }

    /// Parameters in the model.
    #[getter]
    fn parameter_count(&self) -> usize {
        self.loaded.model().parameter_count()
    }

    /// Size of the model file in bytes.
    #[getter]
    fn file_size(&self) -> usize {
        self.loaded.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "needle.Model(window={}, stride={}, top_k={}, threshold={}, parameters={})",
            self.window(),
            self.stride(),
            self.top_k(),
            self.loaded.model().threshold(),
            self.parameter_count()
        )
    }

    /// Scores `lines` (one log file's lines, in order) in one call: every
    /// window as `needle score` scores it, and the alerts it raises.
    #[pyo3(signature = (lines, *, threshold=None, timezone=None, timestamp_format=None, year=None, source=None))]
    #[allow(clippy::too_many_arguments)]
    fn score(
        &self,
        py: Python<'_>,
        lines: &Bound<'_, PyAny>,
        threshold: Option<f32>,
        timezone: Option<&str>,
        timestamp_format: Option<&str>,
        year: Option<i16>,
        source: Option<String>,
    ) -> PyResult<Scores> {
        let options = self.options(threshold, timezone, timestamp_format, year)?;
        let mut core = self.core(&options, false, source.as_deref())?;
        let lines = collect_lines(lines)?;
        py.allow_threads(|| {
            for line in lines.iter() {
                core.push(line, line.len());
            }
            core.finish();
        });
        Scores::new(py, &mut core, self.top_k().into(), source.as_deref())
    }

    /// A stream: push lines as they arrive, get windows as they are scored
    /// and alerts as they close.
    #[pyo3(signature = (*, threshold=None, timezone=None, timestamp_format=None, year=None, source=None))]
    fn stream(
        &self,
        threshold: Option<f32>,
        timezone: Option<&str>,
        timestamp_format: Option<&str>,
        year: Option<i16>,
        source: Option<String>,
    ) -> PyResult<Stream> {
        let options = self.options(threshold, timezone, timestamp_format, year)?;
        Ok(Stream {
            core: self.core(&options, true, source.as_deref())?,
            source,
        })
    }
}

/// Every window of one `Model.score` call (numpy arrays, one row per
/// window, in order) and the alerts raised.
#[pyclass(module = "needle", frozen, get_all)]
struct Scores {
    first_line: Py<PyArray1<u64>>,
    last_line: Py<PyArray1<u64>>,
    score: Py<PyArray1<f32>>,
    flagged: Py<PyArray1<bool>>,
    unfamiliar_lines: Py<PyArray1<u16>>,
    top_line: Py<PyArray2<i64>>,
    top_weight: Py<PyArray2<f32>>,
    alerts: Py<PyList>,
    summary: Py<PyDict>,
    threshold: f64,
}

impl Scores {
    fn new(py: Python<'_>, core: &mut Core, top_k: usize, source: Option<&str>) -> PyResult<Self> {
        let summary = summary_dict(py, core, source)?.unbind();
        let threshold = f64::from(core.threshold());
        let collected = core.collected();
        let bags: &[Column] = &collected.columns;
        let n = bags.len();
        let k = top_k.max(1);
        let mut top_line = vec![-1i64; n * k];
        let mut top_weight = vec![f32::NAN; n * k];
        for (i, b) in bags.iter().enumerate() {
            for (j, &(line, weight)) in b.top.iter().take(k).enumerate() {
                top_line[i * k + j] = i64::try_from(line).unwrap_or(-1);
                top_weight[i * k + j] = weight;
            }
        }
        let col = |f: fn(&Column) -> u64| bags.iter().map(f).collect::<Vec<_>>();
        let alerts = PyList::empty(py);
        for a in &collected.alerts {
            alerts.append(alert_dict(py, a, source)?)?;
        }
        Ok(Self {
            first_line: PyArray1::from_vec(py, col(|b| b.first_line)).unbind(),
            last_line: PyArray1::from_vec(py, col(|b| b.last_line)).unbind(),
            score: PyArray1::from_vec(py, bags.iter().map(|b| b.score).collect()).unbind(),
            flagged: PyArray1::from_vec(py, bags.iter().map(|b| b.flagged).collect()).unbind(),
            unfamiliar_lines: PyArray1::from_vec(
                py,
                bags.iter().map(|b| b.unfamiliar_lines).collect(),
            )
            .unbind(),
            top_line: PyArray1::from_vec(py, top_line).reshape([n, k])?.unbind(),
            top_weight: PyArray1::from_vec(py, top_weight).reshape([n, k])?.unbind(),
            alerts: alerts.unbind(),
            summary,
            threshold,
        })
    }
}

#[pymethods]
impl Scores {
    fn __len__(&self, py: Python<'_>) -> usize {
        self.score.bind(py).len().unwrap_or(0)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "needle.Scores(windows={}, alerts={}, threshold={})",
            self.__len__(py),
            self.alerts.bind(py).len(),
            self.threshold
        )
    }
}

/// One of a window's most attended lines.
#[pyclass(module = "needle", frozen, get_all)]
#[derive(Clone)]
struct TopLine {
    /// Line number (1-based, counting every line pushed).
    line: u64,
    /// Attention weight.
    weight: f64,
    /// The line's text (at most 4 KiB).
    text: String,
    /// The line was not valid UTF-8 (invalid bytes replaced by U+FFFD).
    lossy: bool,
    /// The line's time (RFC 3339, UTC), when the log has timestamps.
    time: Option<String>,
}

#[pymethods]
impl TopLine {
    fn __repr__(&self) -> String {
        format!(
            "needle.TopLine(line={}, weight={}, text={:?})",
            self.line, self.weight, self.text
        )
    }
}

/// One scored window of a stream.
#[pyclass(module = "needle", frozen, get_all)]
struct Bag {
    first_line: u64,
    last_line: u64,
    score: f64,
    anomalous: bool,
    unfamiliar_lines: u16,
    top: Vec<TopLine>,
}

#[pymethods]
impl Bag {
    fn __repr__(&self) -> String {
        format!(
            "needle.Bag(first_line={}, last_line={}, score={}, anomalous={})",
            self.first_line,
            self.last_line,
            self.score,
            if self.anomalous { "True" } else { "False" }
        )
    }
}

impl From<BagRow> for Bag {
    fn from(b: BagRow) -> Self {
        Self {
            first_line: b.first_line,
            last_line: b.last_line,
            score: f64::from(b.score),
            anomalous: b.anomalous,
            unfamiliar_lines: b.unfamiliar_lines,
            top: b
                .top
                .into_iter()
                .map(|t| TopLine {
                    line: t.line,
                    weight: f64::from(t.weight),
                    text: t.text,
                    lossy: t.lossy,
                    time: t.time,
                })
                .collect(),
        }
    }
}

/// Lines pushed one by one (or in batches); windows are scored every
/// `stride` lines once `window` lines are in, as on the device.
#[pyclass(module = "needle")]
struct Stream {
    core: Core,
    source: Option<String>,
}

impl Stream {
    fn check_open(&self) -> PyResult<()> {
        if self.core.finished {
            return Err(PyRuntimeError::new_err(
                "the stream is finished: start a new one with Model.stream()",
            ));
        }
        Ok(())
    }
}

#[pymethods]
impl Stream {
    /// Adds one line; returns the window it completes, if any.
    fn push(&mut self, line: &Bound<'_, PyAny>) -> PyResult<Option<Bag>> {
        self.check_open()?;
        let bytes = line_bytes(line, usize::try_from(self.core.lines_seen()).unwrap_or(0))?;
        let core = &mut self.core;
        line.py().allow_threads(|| core.push(&bytes, bytes.len()));
        Ok(self
            .core
            .collected()
            .rows
            .drain(..)
            .next_back()
            .map(Bag::from))
    }

    /// Adds lines in order; returns the windows they complete.
    fn push_many(&mut self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<Vec<Bag>> {
        self.check_open()?;
        let lines = collect_lines(lines)?;
        let core = &mut self.core;
        py.allow_threads(|| {
            for line in lines.iter() {
                core.push(line, line.len());
            }
        });
        Ok(self
            .core
            .collected()
            .rows
            .drain(..)
            .map(Bag::from)
            .collect())
    }

    /// The end of the input: scores the lines no window covered yet (the
    /// last `window` lines) and closes the open alert. Returns that window.
    fn finish(&mut self, py: Python<'_>) -> Option<Bag> {
        let core = &mut self.core;
        py.allow_threads(|| core.finish());
        self.core
            .collected()
            .rows
            .drain(..)
            .next_back()
            .map(Bag::from)
    }

    /// The alerts closed since the last call (dicts as `needle score`'s
    /// alert rows), oldest first.
    fn alerts<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for a in self.core.collected().alerts.drain(..) {
            list.append(alert_dict(py, &a, self.source.as_deref())?)?;
        }
        Ok(list)
    }

    /// Counters so far (the `needle score` summary's fields).
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        summary_dict(py, &self.core, self.source.as_deref())
    }

    /// Lines pushed so far.
    #[getter]
    fn lines_seen(&self) -> u64 {
        self.core.lines_seen()
    }

    /// The threshold in effect.
    #[getter]
    fn threshold(&self) -> f64 {
        f64::from(self.core.threshold())
    }

    /// `finish()` was called.
    #[getter]
    fn finished(&self) -> bool {
        self.core.finished
    }

    fn __repr__(&self) -> String {
        format!(
            "needle.Stream(lines_seen={}, finished={})",
            self.core.lines_seen(),
            if self.core.finished { "True" } else { "False" }
        )
    }
}

/// Score log lines with a needle model file.
#[pymodule]
#[pyo3(name = "needle")]
fn needle_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ModelError", m.py().get_type::<ModelError>())?;
    m.add_class::<PyModel>()?;
    m.add_class::<Scores>()?;
    m.add_class::<Stream>()?;
    m.add_class::<Bag>()?;
    m.add_class::<TopLine>()?;
    Ok(())
}
