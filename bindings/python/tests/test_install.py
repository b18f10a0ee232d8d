"""pip install of the package (Debian's python3 and setuptools, no network)
into a virtual environment, with the library shipped inside the package;
and the search order used from the source tree."""
import os
import shutil
import subprocess
import sys

import pytest

import libtransformer as tfm
from libtransformer import _ffi
from conftest import PKG, ROOT


def test_search_order(monkeypatch):
    monkeypatch.delenv("TFM_LIBRARY", raising=False)
    c = _ffi.candidates()
    kinds = [d for d, _ in c]
    assert kinds[0] == "next to the package"
    assert c[0][1] == os.path.join(PKG, "libtransformer", "libtransformer.so")
    assert "the source tree's build folder" in kinds
    assert os.path.join(ROOT, "build", "libtransformer.so") in [p for _, p in c]
    assert kinds.index("the source tree's build folder") < kinds.index(
        "the dynamic loader's search path")
    monkeypatch.setenv("TFM_LIBRARY", "/x/y.so")
    assert _ffi.candidates() == [("TFM_LIBRARY", "/x/y.so")]


def test_pip_install(tmp_path, lib):
    import importlib.util
    missing = [m for m in ("pip", "venv", "setuptools") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip("python3 lacks %s" % ", ".join(missing))
    src = tmp_path / "src"
    shutil.copytree(PKG, str(src), ignore=shutil.ignore_patterns(
        "tests", "__pycache__", "build", "*.egg-info", "*.so*"))
    # ship the library inside the package
    shutil.copy(os.path.realpath(lib.path), str(src / "libtransformer" / "libtransformer.so"))
    env_dir = tmp_path / "venv"
    subprocess.check_call([sys.executable, "-m", "venv", "--system-site-packages",
                           "--without-pip", str(env_dir)])
    py = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("TFM_LIBRARY", "PYTHONPATH")}
    r = subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index",
                        str(src)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert r.returncode == 0, r.stdout.decode()
    code = ("import libtransformer as t, numpy as np; "
            "print(t.__file__); print(t.library_path()); print(t.__version__); "
            "print(t.Context(2).softmax(np.zeros(4))[0])")
    r = subprocess.run([py, "-c", code], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr.decode()
    f, libpath, version, val = r.stdout.decode().split()
    assert f.startswith(str(env_dir)) and "site-packages" in f
    assert libpath == os.path.join(os.path.dirname(f), "libtransformer.so")
    assert version == tfm.__version__ and float(val) == 0.25
