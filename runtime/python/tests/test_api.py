"""The Python API: loading, one-call scoring, streams, alerts, errors."""

import os
import pathlib
import threading
import time

import numpy as np
import pytest

import needle
from conftest import MODEL, bgl_lines, cli_rows


def test_load_from_path_bytes_and_pathlike(model):
    data = open(MODEL, "rb").read()
    for m in [needle.Model(data), needle.Model.from_bytes(bytearray(data)),
              needle.Model(pathlib.Path(MODEL)), needle.Model.from_path(MODEL),
              needle.Model(memoryview(data))]:
        assert (m.window, m.stride, m.top_k) == (model.window, model.stride, model.top_k)
        assert m.threshold == model.threshold
    assert model.window == 32 and model.stride == 16
    assert model.file_size == len(data)
    assert "needle.Model(" in repr(model)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "truncated"),
        (b"NOPE" + bytes(100), "not a needle model file"),
        (None, "checksum"),  # a flipped payload byte
    ],
)
def test_bad_model_bytes_raise_model_error(data, words):
    if data is None:
        raw = bytearray(open(MODEL, "rb").read())
        raw[len(raw) // 2] ^= 0xFF
        data = bytes(raw)
    with pytest.raises(needle.ModelError, match=words):
        needle.Model(data)
    assert issubclass(needle.ModelError, ValueError)


def test_bad_arguments_raise_python_exceptions(model, tmp_path):
    with pytest.raises(FileNotFoundError):
        needle.Model(str(tmp_path / "missing.needle"))
    with pytest.raises(TypeError):
        needle.Model(42)
    with pytest.raises(TypeError):
        needle.Model.from_bytes("a path is not bytes")
    with pytest.raises(TypeError, match="line 2: expected str or bytes, got int"):
        model.score(["ok", 5])
    with pytest.raises(TypeError, match="single str"):
        model.score("one line")
    with pytest.raises(TypeError):
        model.score(None)
    with pytest.raises(ValueError, match="threshold"):
        model.score(["x"], threshold=1.5)
    with pytest.raises(ValueError, match="timestamp format"):
        model.score(["x"], timestamp_format="no-such-format")
    with pytest.raises(ValueError):
        model.stream(timezone="Not/AZone")
    s = model.stream()
    with pytest.raises(TypeError):
        s.push(3.5)
    s.finish()
    with pytest.raises(RuntimeError, match="finished"):
        s.push("late")


def test_score_columns_are_numpy_arrays(model):
    lines = bgl_lines("BGL_2k.log", 100)
    s = model.score(lines)
    # 100 lines: windows at 1-32, 17-48, 33-64, 49-80, 65-96, then the tail 69-100.
    assert list(s.first_line) == [1, 17, 33, 49, 65, 69]
    assert list(s.last_line) == [32, 48, 64, 80, 96, 100]
    assert s.first_line.dtype == np.uint64 and s.score.dtype == np.float32
    assert s.flagged.dtype == np.bool_ and len(s) == 6
    assert s.top_line.shape == (6, 3) and s.top_weight.shape == (6, 3)
    assert (s.flagged == (s.score >= np.float32(model.threshold))).all()
    assert ((s.top_line >= s.first_line[:, None]) & (s.top_line <= s.last_line[:, None])).all()
    assert s.summary["lines"] == 100 and s.summary["bags"] == 6
    assert s.summary["files"] == [{"file": None, "lines": 100, "timestamps": "epoch seconds"}]


def test_str_and_bytes_lines_score_the_same(model):
    raw = bgl_lines("BGL_2k.log", 200)
    a = model.score(raw)
    b = model.score([l.decode() + "\n" for l in raw])  # readlines() style
    assert (a.score == b.score).all() and a.alerts == b.alerts


def test_short_inputs(model):
    assert len(model.score([])) == 0
    s = model.score([b"RAS KERNEL FATAL data TLB error interrupt"] * 5)
    assert list(s.first_line) == [1] and list(s.last_line) == [5]
    assert (s.top_line[0] >= 1).sum() == 3


def test_windows_and_alerts_equal_the_cli(model, tmp_path):
    lines = bgl_lines("BGL_2k.log")
    s = model.score(lines)
    rows = cli_rows(lines, tmp_path, "--windows")
    bags = [r["data"] for r in rows if r["type"] == "bag"]
    alerts = [r["data"] for r in rows if r["type"] == "alert"]
    assert len(bags) == len(s)
    for i, b in enumerate(bags):
        assert (b["first_line"], b["last_line"]) == (int(s.first_line[i]), int(s.last_line[i]))
        assert b["score"] == float(s.score[i])  # the f32, exactly
        assert b["anomalous"] == bool(s.flagged[i])
        assert [t["line"] for t in b["top"]] == [int(x) for x in s.top_line[i] if x >= 0]
        assert [t["weight"] for t in b["top"]] == [float(x) for x in s.top_weight[i][: len(b["top"])]]
    got = [dict(a) for a in s.alerts]
    for a in got:
        assert a.pop("file") is None
    assert got == alerts and len(alerts) > 0
    summary = rows[-1]["data"]
    assert rows[-1]["type"] == "summary"
    # The same row type behind both: the same fields, and the same values
    # (the CLI names its file, this call named no source).
    assert set(s.summary) == set(summary)
    for f in summary["files"]:
        f["file"] = None
    assert s.summary == summary


def test_threshold_option_equals_the_cli(model, tmp_path):
    lines = bgl_lines("BGL_4k.log", 1500)
    s = model.score(lines, threshold=0.5, source="x.log")
    alerts = [r["data"] for r in cli_rows(lines, tmp_path, "--threshold", "0.5") if r["type"] == "alert"]
    assert [{k: v for k, v in a.items() if k != "file"} for a in s.alerts] == alerts
    assert all(a["file"] == "x.log" for a in s.alerts)


def test_stream_gives_the_same_windows_and_alerts(model):
    lines = bgl_lines("BGL_2k.log", 700)
    whole = model.score(lines)
    st = model.stream()
    bags, alerts = [], []
    for i, line in enumerate(lines):
        if i < 300:
            bag = st.push(line)
            if bag is not None:
                bags.append(bag)
        else:
            bags += st.push_many(lines[i : i + 50]) if i % 50 == 0 else []
        alerts += st.alerts()
    last = st.finish()
    bags += [last] if last else []
    alerts += st.alerts()
    assert st.finished and st.lines_seen == 700
    assert [b.first_line for b in bags] == list(whole.first_line)
    assert [np.float32(b.score) for b in bags] == list(whole.score)
    assert alerts == list(whole.alerts)
    top = bags[0].top[0]
    assert top.text == lines[top.line - 1].decode() and top.time.startswith("2005-")
    assert st.summary()["lines"] == 700
    assert "needle.Bag(" in repr(bags[0])


def test_non_utf8_and_long_lines_do_not_crash(model):
    lines = [b"\xff\xfe bad bytes " * 3, "x" * 100_000, b"\x1b[31mred\x1b[0m", ""] * 20
    s = model.score(lines)
    assert s.summary["non_utf8_lines"] == 20 and s.summary["long_lines"] == 20
    assert np.isfinite(s.score).all()


def test_scoring_releases_the_gil(model):
    lines = bgl_lines("BGL_8k.log") * 3
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    start = time.perf_counter()
    model.score(lines)
    end = time.perf_counter()
    done.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # The other thread kept running while Rust scored (held GIL: ~0 ticks).
    assert end - start > 0.05
    assert len(during) >= 10, (len(during), end - start)
