"""Runs the Python sessions of docs/PYTHON.md from the repository root."""
import contextlib
import io
import os
import re

import pytest

import libtransformer as tfm
from conftest import ROOT, STORIES

DOC = os.path.join(ROOT, "docs", "PYTHON.md")


def blocks():
    text = open(DOC).read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.parametrize("i", range(len(blocks())))
def test_doc_block(i, monkeypatch):
    code = blocks()[i]
    if "../shared/" in code and not os.path.isfile(os.path.join(STORIES, "stories260K.bin")):
        pytest.skip("../shared absent")
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "%s block %d" % (DOC, i), "exec"), {})
    except tfm.UnsupportedError as e:
        if "model_type 'bert'" in e.message or "model_type 'distilbert'" in e.message:
            pytest.skip("tfm_model_load does not dispatch model_type bert yet")
        raise
