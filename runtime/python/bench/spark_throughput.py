"""Lines/s of examples/spark_score.py in Spark's local mode.

    python runtime/python/bench/spark_throughput.py [--hosts 40] [--lines 5000] [--cores 2]

Writes `hosts` x `lines` BGL lines (host, seq, line) as Parquet, then times
the job end to end (read, group by host, order, score, write the alerts as
Parquet), after one warm-up run that starts the Python workers.
"""

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
import spark_score  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(args.cores * 2))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.addPyFile(spark_score.__file__)
    pool = []
    for name in ["BGL_2k.log", "BGL_4k.log", "BGL_6k.log", "BGL_8k.log"]:
        with open(os.path.join(ROOT, "data", "bgl", name), encoding="utf-8", errors="replace") as f:
            pool += [l.rstrip("\n").split(" ", 1)[1] for l in f]
    rows = []
    for h in range(args.hosts):
        start = (h * 997) % (len(pool) - args.lines)
        rows += [(f"host{h:03d}", i, pool[start + i]) for i in range(args.lines)]
    model = open(os.path.join(ROOT, "tests", "fixtures", "bgl-default.needle"), "rb").read()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "logs.parquet")
        spark.createDataFrame(rows, "host string, seq long, line string").write.parquet(src)
        times = []
        for run in range(3):
            t = time.perf_counter()
            logs = spark.read.parquet(src)
            spark_score.score_hosts(logs, model).write.mode("overwrite").parquet(os.path.join(tmp, "alerts"))
            times.append(time.perf_counter() - t)
        alerts = spark.read.parquet(os.path.join(tmp, "alerts")).count()
    n = args.hosts * args.lines
    best = min(times[1:])
    print(f"{args.hosts} hosts x {args.lines} lines = {n} lines, {alerts} alerts, local[{args.cores}]")
    print(f"runs: {', '.join(f'{x:.1f}s' for x in times)} (first includes worker start-up)")
    print(f"Spark: {n / best:,.0f} lines/s (best warm run)")
    spark.stop()


if __name__ == "__main__":
    main()
