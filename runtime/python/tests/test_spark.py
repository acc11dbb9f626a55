"""The Spark job in local mode: per host, the same alerts as `needle score`
on that host's lines, bit for bit."""

import os
import random
import sys

import pytest

from conftest import MODEL, bgl_lines, cli_rows

pyspark = pytest.importorskip("pyspark")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import spark_score  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    s = (
        SparkSession.builder.master("local[2]")
        .appName("needle-test")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    # The workers unpickle the scoring function by module, as with
    # spark-submit --py-files.
    s.sparkContext.addPyFile(spark_score.__file__)
    yield s
    s.stop()


def test_alerts_per_host_equal_the_cli(spark, tmp_path):
    hosts = {
        "bgl-a": bgl_lines("BGL_2k.log"),
        "bgl-b": bgl_lines("BGL_4k.log", 3000),
        "bgl-c": bgl_lines("BGL_8k.log")[1200:1400],
        "tiny": bgl_lines("BGL_8k.log")[1270:1290],  # fewer lines than a window
        "quiet": [b"nothing to see here"] * 40,
    }
    rows = [(h, i, l.decode()) for h, lines in hosts.items() for i, l in enumerate(lines)]
    random.Random(7).shuffle(rows)  # Spark must order them by the key
    df = spark.createDataFrame(rows, "host string, seq long, line string")
    with open(MODEL, "rb") as f:
        model_bytes = f.read()
    out = spark_score.score_hosts(df, model_bytes).collect()

    got = {}
    for r in out:
        d = r.asDict(recursive=True)
        host = d.pop("host")
        alert = {
            "first_line": d["first_line"],
            "last_line": d["last_line"],
            "first_time": d["first_time"],
            "last_time": d["last_time"],
            "score": d["score"],
            "windows": d["windows"],
            "peak": {"first_line": d["peak_first_line"], "last_line": d["peak_last_line"]},
            "top": d["top"],
            "evidence": None
            if d["evidence_line"] is None
            else {"without_line": d["evidence_line"], "score_without": d["score_without"]},
            "continued": d["continued"],
        }
        got.setdefault(host, []).append(alert)
    total = 0
    for host, lines in hosts.items():
        want = [r["data"] for r in cli_rows(lines, tmp_path, "--alerts-only")]
        mine = sorted(got.get(host, []), key=lambda a: a["first_line"])
        # Equal dicts: every float (score, weights, score_without) is the
        # same f32 widened to a double, so == is bit-for-bit.
        assert mine == want, host
        total += len(want)
    assert total > 5 and "quiet" not in got
