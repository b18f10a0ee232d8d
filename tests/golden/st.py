"""Minimal safetensors writer and reader for the golden-data generators.

A safetensors file is: 8 bytes little-endian header length N, N bytes of a
JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}, then the raw little-endian tensor data, with
offsets relative to the end of the header.

    import st
    st.save("model.safetensors", {"w": array_or_tensor, ...}, dtype="F32",
            metadata={"format": "pt"})
    tensors = st.load("model.safetensors")   # {name: numpy array}
"""
import json
import struct

import numpy as np

# safetensors dtype name -> numpy dtype (BF16 is handled separately).
_NP = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}


def _to_numpy(x):
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def bf16_bits(a):
    """float array -> uint16 bfloat16 bits, round to nearest even."""
    f = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    u = f.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_to_f64(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)


def round_to(a, dtype):
    """The float64 values a tensor takes once stored as `dtype` (F32/F16/BF16/F64)."""
    a = np.asarray(a, dtype=np.float64)
    if dtype == "F64":
        return a
    if dtype == "F32":
        return a.astype(np.float32).astype(np.float64)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "BF16":
        return bf16_to_f64(bf16_bits(a)).reshape(a.shape)
    raise ValueError(dtype)


def encode(tensors, dtype=None, metadata=None, dtypes=None):
    """Bytes of a safetensors file. `dtype` (default: each array's own) sets
    the stored dtype of float tensors; `dtypes` maps names to dtypes."""
    header = {}
    blobs = []
    off = 0
    for name, value in tensors.items():
        a = _to_numpy(value)
        dt = (dtypes or {}).get(name) or (dtype if a.dtype.kind == "f" and dtype else None)
        if dt is None:
            dt = {v: k for k, v in _NP.items()}[a.dtype.type]
        if dt == "BF16":
            raw = bf16_bits(a).tobytes()
        else:
            raw = np.ascontiguousarray(a.astype(_NP[dt])).astype(np.dtype(_NP[dt]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # pad so the data starts 8-byte aligned
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def save(path, tensors, dtype=None, metadata=None, dtypes=None):
    with open(path, "wb") as f:
        f.write(encode(tensors, dtype=dtype, metadata=metadata, dtypes=dtypes))


def load(path):
    """{name: numpy array} (BF16 comes back as float64 values)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        if info["dtype"] == "BF16":
            a = bf16_to_f64(np.frombuffer(raw, dtype="<u2"))
        else:
            a = np.frombuffer(raw, dtype=np.dtype(_NP[info["dtype"]]).newbyteorder("<"))
        out[name] = a.reshape(info["shape"])
    return out
