"""libtransformer: transformer inference on the CPU, from Python.

A pure-Python package over libtransformer's C ABI (ctypes, no compiled
extension). The shared library is found next to the package, in the source
tree's build/ folder, where it is installed, or at the path in the
TFM_LIBRARY environment variable.

    import libtransformer as tfm
    with tfm.Model.load("stories260K.bin", tokenizer="tok512.bin") as m:
        for piece in m.generate("Once upon a time", temperature=0, max_new_tokens=40):
            print(piece, end="", flush=True)

See docs/PYTHON.md.
"""
from . import _ffi
from ._ffi import (EXPECTED_VERSION, LibraryNotFoundError, LibraryVersionError,
                   load as load_library)
from .core import (Context, PackedMatrix, bf16_to_f32, cpu_features, f16_to_f32,
                   f32_to_bf16, kernels_name, kernels_supported, status_str, version, version_string)
from .errors import (AbortedError, DtypeError, FormatError, InvalidArgumentError,
                     MisuseError, NoMemoryError, NotFoundError, NumericError, RangeError, ShapeError,
                     TfmError, TfmIOError, UnsupportedError)
from .layers import (Decoder, DecoderLayer, Encoder, EncoderLayer, FeedForward, KVCache,
                     MultiheadAttention, Workspace, additive_attention, alibi_slopes,
                     attention, embed, mean_pool, norm, pos_sinusoidal, rope)
from .models import (Encoding, Model, SafeTensors, Sampler, Session, Tokenizer,
                     Translation, quantize)

__version__ = "%d.%d.%d" % EXPECTED_VERSION


def library_path():
    """Path of the shared library in use."""
    return _ffi.lib().path


__all__ = [n for n in dir() if not n.startswith("_")]
