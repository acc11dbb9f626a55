#!/usr/bin/env bash
# The Python package and the Spark job (docs/python.md, docs/scale.md):
# builds the `needle` wheel with maturin into a virtual environment, installs
# pytest, numpy and pyspark there (and a Java runtime for Spark when none is
# installed), builds the `needle` CLI the tests compare against, and runs
# runtime/python/tests. Set NEEDLE_PY_BENCH=1 to also print the throughput
# figures (Python vs CLI, Spark lines/s).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${NEEDLE_VENV:-target/python-venv}

if ! command -v java >/dev/null 2>&1; then
    echo "== installing a Java runtime for Spark"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq default-jre-headless >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== virtual environment $VENV"
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q maturin pytest numpy pyspark pandas pyarrow

echo "== needle CLI (release), the reference the tests compare with"
cargo build -q --release -p needle-host --bin needle

echo "== needle wheel (maturin, release)"
rm -rf target/wheels/needle-*.whl
"$VENV/bin/maturin" build -q --release -m runtime/python/Cargo.toml -i "$VENV/bin/python" --out target/wheels
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps target/wheels/needle-*.whl

echo "== pytest"
export PYTHONDONTWRITEBYTECODE=1
export PYSPARK_PYTHON="$PWD/$VENV/bin/python"
export NEEDLE_CLI="$PWD/target/release/needle"
(cd runtime/python && "$PWD/../../$VENV/bin/python" -m pytest -p no:cacheprovider -W ignore::FutureWarning tests)

if [ "${NEEDLE_PY_BENCH:-0}" = 1 ]; then
    echo "== throughput"
    "$VENV/bin/python" runtime/python/bench/throughput.py
    "$VENV/bin/python" runtime/python/bench/spark_throughput.py
fi
echo "python-check OK"
