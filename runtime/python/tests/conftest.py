"""Shared fixtures: the bundled model, BGL lines and the `needle` CLI."""

import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.path.join(ROOT, "tests", "fixtures", "bgl-default.needle")
CLI = os.environ.get("NEEDLE_CLI", os.path.join(ROOT, "target", "release", "needle"))


def bgl_lines(name: str, limit=None) -> list:
    """A BGL sample's lines without the label column, as bytes."""
    with open(os.path.join(ROOT, "data", "bgl", name), "rb") as f:
        lines = [l.split(b" ", 1)[1] for l in f.read().splitlines()]
    return lines[:limit] if limit else lines


def cli_rows(lines, tmp_path, *extra) -> list:
    """`needle score` rows (dicts) on `lines` written to a file."""
    if not os.path.exists(CLI):
        pytest.skip(f"{CLI} not built (cargo build --release -p needle-host --bin needle)")
    path = tmp_path / "host.log"
    path.write_bytes(b"".join(l + b"\n" for l in lines))
    out = subprocess.run(
        [CLI, "score", "--model", MODEL, *extra, str(path)], capture_output=True, check=False
    )
    assert out.returncode in (0, 1), out.stderr.decode()
    rows = [json.loads(l) for l in out.stdout.decode().splitlines()]
    for r in rows:
        r["data"].pop("file", None)
    return rows


@pytest.fixture(scope="session")
def model():
    import needle

    return needle.Model(MODEL)
