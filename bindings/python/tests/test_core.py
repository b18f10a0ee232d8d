"""Library loading, versions, errors, tensors and the tensor operations."""
import ctypes
import ctypes.util
import os
import subprocess
import sys

import numpy as np
import pytest

import libtransformer as tfm
from libtransformer import _ffi
from conftest import PKG, ROOT, golden


def _header_version():
    v = {}
    for line in open(os.path.join(ROOT, "include", "transformer.h")):
        for k in ("MAJOR", "MINOR", "PATCH"):
            if line.startswith("#define TFM_VERSION_%s " % k):
                v[k] = int(line.split()[2])
    return v["MAJOR"], v["MINOR"], v["PATCH"]


def test_version(lib):
    assert tfm.version() == lib.version
    major, minor, patch = tfm.version()
    assert major == tfm.EXPECTED_VERSION[0]
    assert tfm.version() >= tfm.EXPECTED_VERSION
    assert tfm.version_string() == "%d.%d.%d" % tfm.version()
    assert tfm.__version__ == "%d.%d.%d" % tfm.EXPECTED_VERSION
    # the package is no newer than the header it was written for
    assert _header_version()[0] == tfm.EXPECTED_VERSION[0]
    assert _header_version() >= tfm.EXPECTED_VERSION
    setup_cfg = open(os.path.join(PKG, "setup.cfg")).read()
    assert "version = %s" % tfm.__version__ in setup_cfg


def test_version_mismatch_is_refused():
    class Fake:
        class tfm_version_number:
            restype = argtypes = None

            def __new__(cls):
                return 1000000  # 1.0.0
    with pytest.raises(tfm.LibraryVersionError, match="version 1.0.0"):
        _ffi._check_version(Fake, "/x/libtransformer.so")

    class Old(Fake):
        class tfm_version_number(Fake.tfm_version_number):
            def __new__(cls):
                return 0  # 0.0.0
    if _ffi.EXPECTED_VERSION_NUMBER > 0:
        with pytest.raises(tfm.LibraryVersionError, match="no older"):
            _ffi._check_version(Old, "/x/libtransformer.so")

    class NextMinor(Fake):
        class tfm_version_number(Fake.tfm_version_number):
            def __new__(cls):
                return _ffi.EXPECTED_VERSION_NUMBER + 1000
    if _ffi.EXPECTED_VERSION[0] == 0:  # 0.x: each minor version is its own ABI
        with pytest.raises(tfm.LibraryVersionError, match="same minor version"):
            _ffi._check_version(NextMinor, "/x/libtransformer.so")
    else:
        _ffi._check_version(NextMinor, "/x/libtransformer.so")


def _py(code, **env):
    e = dict(os.environ, PYTHONPATH=PKG)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], env=e, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


def test_library_search(lib):
    # TFM_LIBRARY pointing nowhere: a clear error listing the path
    r = _py("import libtransformer as t; t.Context()", TFM_LIBRARY="/nonexistent/libx.so")
    assert r.returncode != 0
    assert b"LibraryNotFoundError" in r.stderr and b"/nonexistent/libx.so" in r.stderr
    # a file that is not libtransformer
    r = _py("import libtransformer as t; t.Context()", TFM_LIBRARY=ctypes.util.find_library("m")
            or "libm.so.6")
    assert r.returncode != 0 and b"not libtransformer" in r.stderr
    # the library given by path is the one used
    r = _py("import libtransformer as t; print(t.library_path())", TFM_LIBRARY=lib.path)
    assert r.returncode == 0 and r.stdout.decode().strip() == lib.path


def test_errors_carry_status_and_message(ctx):
    a = np.ones((3, 4), np.float32)
    with pytest.raises(tfm.ShapeError) as e:
        ctx.matmul(a, a)
    err = e.value
    assert err.status == 3 and err.status_name == "TFM_ERR_SHAPE"
    assert err.function == "tfm_matmul"
    assert "K = 4" in err.message and "[3, 4]" in err.message
    assert isinstance(err, tfm.TfmError) and isinstance(err, ValueError)
    assert err.message in str(err) and "tfm_matmul" in str(err)
    assert ctx.last_error == err.message
    assert tfm.status_str(1) == "out of memory" or tfm.status_str(1)
    with pytest.raises(tfm.InvalidArgumentError, match="n_threads"):
        tfm.Context(n_threads=0)


def test_closed_objects_refuse_use():
    c = tfm.Context()
    c.close()
    assert c.closed
    with pytest.raises(tfm.MisuseError, match="closed"):
        c.softmax(np.ones(3, np.float32))
    c.close()  # twice is fine


def test_zero_copy_and_copies(ctx):
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    t, arr = tfm.core.to_tensor(x)
    assert arr is x and t.data == x.ctypes.data  # borrowed in place
    assert list(t.stride[:2]) == [6, 1]
    t2, arr2 = tfm.core.to_tensor(x.T)          # not C-contiguous: copied
    assert arr2 is not x and t2.data != x.ctypes.data
    t3, arr3 = tfm.core.to_tensor(x.astype(np.float64))  # converted
    assert arr3.dtype == np.float32
    out = np.empty((4, 6), np.float32)
    r = ctx.softmax(x, out=out)
    assert r is out  # written in place
    ref = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(out, ref / ref.sum(-1, keepdims=True), rtol=1e-6)
    # a strided output is written back
    big = np.zeros((4, 12), np.float32)
    ctx.softmax(x, out=big[:, ::2])
    np.testing.assert_array_equal(big[:, ::2], out)
    assert not big[:, 1::2].any()
    np.testing.assert_array_equal(ctx.softmax(x.T), ctx.softmax(np.ascontiguousarray(x.T)))


def test_ops_against_numpy(ctx):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 8)).astype(np.float32)
    w = rng.standard_normal((5, 8)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    ref = a.astype(np.float64) @ w.T.astype(np.float64) + bias
    np.testing.assert_allclose(ctx.matmul(a, w, trans_b=True, bias=bias), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ctx.matmul(a, w.T.copy(), alpha=2.0), 2 * (ref - bias),
                               rtol=1e-5, atol=1e-5)
    p = ctx.pack(w, trans_b=True)
    assert (p.rows, p.cols) == (8, 5)
    np.testing.assert_allclose(ctx.matmul_packed(a, p, bias=bias), ref, rtol=1e-5, atol=1e-5)
    p.close()
    b = rng.standard_normal(8).astype(np.float32)
    np.testing.assert_array_equal(ctx.add(a, b), a + b)
    np.testing.assert_array_equal(ctx.mul(a, b), a * b)
    np.testing.assert_allclose(ctx.scale(a, 0.5), a * 0.5)
    g = rng.standard_normal(8).astype(np.float32)
    mu, var = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
    np.testing.assert_allclose(ctx.layernorm(a, g, b, 1e-5), (a - mu) / np.sqrt(var + 1e-5) * g + b,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ctx.rmsnorm(a, g), a / np.sqrt((a * a).mean(-1, keepdims=True) + 1e-5) * g,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ctx.relu(a), np.maximum(a, 0))
    np.testing.assert_allclose(ctx.silu(a), a / (1 + np.exp(-a)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ctx.activation(a, "tanh"), np.tanh(a), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown activation"):
        ctx.activation(a, "swish2")
    table = rng.standard_normal((10, 4)).astype(np.float32)
    ids = np.array([[1, 9], [0, 3]], np.int32)
    np.testing.assert_array_equal(ctx.embedding(table, ids), table[ids])
    with pytest.raises(tfm.RangeError, match="10"):
        ctx.embedding(table, np.array([10], np.int32))
    np.testing.assert_array_equal(ctx.embedding(table.astype(np.float16), ids),
                                  table.astype(np.float16).astype(np.float32)[ids])
    m = np.array([0, -np.inf, 0, 0, 0, 0, 0, 0], np.float32)
    s = ctx.softmax(a, mask=m)
    assert (s[..., 1] == 0).all()


def test_conversions(ctx):
    x = np.array([1.0, -2.5, 3.14159, 65504.0, 1e-3], np.float32)
    bf = tfm.f32_to_bf16(x)
    assert bf.dtype == np.uint16
    back = tfm.bf16_to_f32(bf)
    np.testing.assert_allclose(back, x, rtol=1 / 128)
    np.testing.assert_array_equal(ctx.convert(x, "bf16"), bf)
    np.testing.assert_array_equal(ctx.convert(x, np.float16), x.astype(np.float16))
    np.testing.assert_array_equal(tfm.f16_to_f32(x.astype(np.float16)),
                                  x.astype(np.float16).astype(np.float32))


def test_info(lib):
    assert tfm.kernels_name() in ("ref", "avx2", "avx512", "neon")
    assert isinstance(tfm.cpu_features(), list)


def test_nan_is_kept_and_check_finite_names_it(ctx, tmp_path):
    import json
    import shutil
    import struct
    x = np.array([[np.nan, 1.0], [0.5, 1.0]], np.float32)
    y = ctx.softmax(x)
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()
    # A GPT-2 folder whose second block's MLP bias holds a NaN.
    src = golden("gpt2/tiny")
    dst = tmp_path / "tiny"
    shutil.copytree(src, dst)
    path = dst / "model.safetensors"
    raw = bytearray(path.read_bytes())
    n = struct.unpack("<Q", raw[:8])[0]
    meta = json.loads(raw[8:8 + n])
    name = next(k for k in meta if k.endswith("h.1.mlp.c_proj.bias"))
    assert meta[name]["dtype"] == "F32"
    at = 8 + n + meta[name]["data_offsets"][0] + 5 * 4
    raw[at:at + 4] = struct.pack("<f", float("nan"))
    path.write_bytes(bytes(raw))
    with tfm.Context(check_finite=True) as c, tfm.Model.load(str(dst), ctx=c) as m:
        with pytest.raises(tfm.NumericError) as e:
            m.session(c).prefill([1, 2, 3])
    assert "layer 1: feed-forward holds nan" in e.value.message
    assert isinstance(e.value, ArithmeticError)


def test_max_memory_caps_a_context():
    with tfm.Context(max_memory=64 * 1024) as c:
        with pytest.raises(tfm.NoMemoryError) as e:
            tfm.Model.load(golden("gpt2", "tiny"), ctx=c)
        assert "over the cap of 65536)" in str(e.value) and "model_load" in str(e.value)
    with tfm.Context(max_memory=64 << 20) as c:
        with tfm.Model.load(golden("gpt2", "tiny"), ctx=c) as m:
            assert m.vocab_size == 277
    with pytest.raises(ValueError):
        tfm.Context(max_memory=-1)
