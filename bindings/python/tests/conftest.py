"""Shared fixtures. The package is imported from the source tree
(bindings/python) unless it is already importable; the library comes from
TFM_LIBRARY, else the usual search (the tree's build/ folder first)."""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PKG))
if PKG not in sys.path:
    sys.path.insert(0, PKG)

import libtransformer as tfm  # noqa: E402

GOLDEN = os.path.join(ROOT, "tests", "golden")
SHARED = os.environ.get("TFM_SHARED", os.path.join(ROOT, "..", "shared"))
STORIES = os.path.join(SHARED, "models", "stories260K")


def golden(*parts):
    return os.path.join(GOLDEN, *parts)


@pytest.fixture(scope="session")
def lib():
    return tfm.load_library()


@pytest.fixture
def ctx():
    with tfm.Context(n_threads=2) as c:
        yield c


@pytest.fixture(scope="session")
def stories():
    """(model path, tokenizer path) of stories260K; skips when ../shared is absent."""
    m = os.path.join(STORIES, "stories260K.bin")
    if not os.path.isfile(m):
        pytest.skip("%s not found (../shared absent)" % m)
    return m, os.path.join(STORIES, "tok512.bin")


@pytest.fixture(scope="session")
def tfm_tool(lib):
    """The tfm command-line tool built beside the library, or skip."""
    d = os.path.dirname(os.path.realpath(lib.path))
    t = os.path.join(d, "tfm")
    if not os.access(t, os.X_OK):
        pytest.skip("no tfm tool beside %s" % lib.path)
    return t


def run_tool(tool, *args):
    r = subprocess.run([tool] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def have_cc():
    return shutil.which(os.environ.get("CC", "cc")) is not None
