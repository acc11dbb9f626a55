"""Score the logs of many hosts on Spark and write their alerts.

Input: rows of (host, order key, line), e.g. Parquet or JSON Lines written
by the log shipper. Each host's lines are grouped, ordered by the key and
scored with the model's count windows (`window` lines every `stride`), as
the device and `needle score` score one file; the alerts (merging, blamed
lines, timestamps, evidence) come from the needle library, so a host's
alerts are exactly those `needle score` raises on that host's lines.

    spark-submit --py-files needle-*.whl runtime/python/examples/spark_score.py \
        --model model.needle --input logs.parquet --output alerts.parquet

(docs/scale.md: the wheel on the executors, cluster submission, streaming.)
Columns are `host`, `seq`, `line` unless --host-col/--order-col/--line-col
say otherwise. The output has one row per alert: ALERT_SCHEMA below.
"""

from __future__ import annotations

import argparse
import hashlib
from typing import Callable, Iterable, Optional

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

# One row per alert; `top` are the blamed lines (highest weight first),
# `evidence` the peak window's score without its key line (docs/output.md).
ALERT_SCHEMA = T.StructType(
    [
        T.StructField("host", T.StringType(), False),
        T.StructField("first_line", T.LongType(), False),
        T.StructField("last_line", T.LongType(), False),
        T.StructField("first_time", T.StringType(), True),
        T.StructField("last_time", T.StringType(), True),
        T.StructField("score", T.DoubleType(), False),
        T.StructField("windows", T.LongType(), False),
        T.StructField("peak_first_line", T.LongType(), False),
        T.StructField("peak_last_line", T.LongType(), False),
        T.StructField(
            "top",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("line", T.LongType(), False),
                        T.StructField("weight", T.DoubleType(), False),
                        T.StructField("text", T.StringType(), False),
                        T.StructField("lossy", T.BooleanType(), False),
                        T.StructField("time", T.StringType(), True),
                    ]
                )
            ),
            False,
        ),
        T.StructField("evidence_line", T.LongType(), True),
        T.StructField("score_without", T.DoubleType(), True),
        T.StructField("continued", T.BooleanType(), False),
    ]
)

# Models loaded in this Python worker, by the hash of their bytes: a worker
# scores many hosts with one load.
_MODELS: dict = {}


def _model(model_bytes: bytes):
    import needle

    key = hashlib.sha256(model_bytes).hexdigest()
    if key not in _MODELS:
        _MODELS[key] = needle.Model(model_bytes)
    return _MODELS[key]


def alert_rows(host: str, alerts: Iterable[dict]) -> list[dict]:
    """`Model.score` alerts as rows of ALERT_SCHEMA."""
    rows = []
    for a in alerts:
        e = a["evidence"]
        rows.append(
            {
                "host": host,
                "first_line": a["first_line"],
                "last_line": a["last_line"],
                "first_time": a["first_time"],
                "last_time": a["last_time"],
                "score": a["score"],
                "windows": a["windows"],
                "peak_first_line": a["peak"]["first_line"],
                "peak_last_line": a["peak"]["last_line"],
                "top": a["top"],
                "evidence_line": e["without_line"] if e else None,
                "score_without": e["score_without"] if e else None,
                "continued": a["continued"],
            }
        )
    return rows


def host_scorer(
    model_bytes: bytes,
    host_col: str = "host",
    order_col: str = "seq",
    line_col: str = "line",
    threshold: Optional[float] = None,
    timezone: Optional[str] = None,
    timestamp_format: Optional[str] = None,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The function `applyInPandas` runs on each host's rows."""

    def score(pdf: pd.DataFrame) -> pd.DataFrame:
        columns = [f.name for f in ALERT_SCHEMA.fields]
        if pdf.empty:
            return pd.DataFrame(columns=columns)
        host = str(pdf[host_col].iloc[0])
        # A stable sort: rows with equal keys keep their order (keys should
        # be unique per host: file offset, or (file, line number)).
        lines = pdf.sort_values(order_col, kind="stable")[line_col].tolist()
        model = _model(model_bytes)
        # The GIL is released while scoring: Spark's Arrow threads go on.
        got = model.score(
            lines,
            threshold=threshold,
            timezone=timezone,
            timestamp_format=timestamp_format,
            source=host,
        )
        return pd.DataFrame(alert_rows(host, got.alerts), columns=columns)

    return score


def score_hosts(
    logs: DataFrame,
    model_bytes: bytes,
    host_col: str = "host",
    order_col: str = "seq",
    line_col: str = "line",
    threshold: Optional[float] = None,
    timezone: Optional[str] = None,
    timestamp_format: Optional[str] = None,
) -> DataFrame:
    """Alerts of every host in `logs` (columns host, order key, line)."""
    fn = host_scorer(
        model_bytes, host_col, order_col, line_col, threshold, timezone, timestamp_format
    )
    return (
        logs.select(host_col, order_col, line_col)
        .groupBy(host_col)
        .applyInPandas(fn, schema=ALERT_SCHEMA)
    )


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="needle model file (read on the driver)")
    ap.add_argument("--input", required=True, help="Parquet, or JSON Lines with --input-format json")
    ap.add_argument("--input-format", default="parquet", choices=["parquet", "json", "orc"])
    ap.add_argument("--output", required=True, help="where the alerts go (Parquet)")
    ap.add_argument("--host-col", default="host")
    ap.add_argument("--order-col", default="seq")
    ap.add_argument("--line-col", default="line")
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--timezone")
    ap.add_argument("--timestamp-format")
    args = ap.parse_args(argv)

    spark = SparkSession.builder.appName("needle-score").getOrCreate()
    with open(args.model, "rb") as f:
        model_bytes = f.read()
    # Validate on the driver: a bad model fails here, not in every task.
    _model(model_bytes)
    logs = spark.read.format(args.input_format).load(args.input)
    alerts = score_hosts(
        logs,
        model_bytes,
        args.host_col,
        args.order_col,
        args.line_col,
        args.threshold,
        args.timezone,
        args.timestamp_format,
    )
    alerts.write.mode("overwrite").parquet(args.output)
    spark.stop()


if __name__ == "__main__":
    main()
