"""Exceptions raised for libtransformer's status codes.

Every failing call raises a TfmError subclass chosen by the status; the
exception carries the status code (.status), its name (.status_name), the C
function that failed (.function) and the library's message from
tfm_ctx_last_error (.message). The subclasses also derive from the matching
built-in exception, so `except ValueError` catches a shape error.
"""

OK = 0
ERR_NOMEM = 1
ERR_INVALID_ARG = 2
ERR_SHAPE = 3
ERR_DTYPE = 4
ERR_IO = 5
ERR_FORMAT = 6
ERR_MISUSE = 7
ERR_RANGE = 8
ERR_UNSUPPORTED = 9
ERR_NOT_FOUND = 10
ABORTED = 11
ERR_NUMERIC = 12

STATUS_NAMES = {
    OK: "TFM_OK", ERR_NOMEM: "TFM_ERR_NOMEM",
    ERR_INVALID_ARG: "TFM_ERR_INVALID_ARG", ERR_SHAPE: "TFM_ERR_SHAPE",
    ERR_DTYPE: "TFM_ERR_DTYPE", ERR_IO: "TFM_ERR_IO",
    ERR_FORMAT: "TFM_ERR_FORMAT", ERR_MISUSE: "TFM_ERR_MISUSE",
    ERR_RANGE: "TFM_ERR_RANGE", ERR_UNSUPPORTED: "TFM_ERR_UNSUPPORTED",
    ERR_NOT_FOUND: "TFM_ERR_NOT_FOUND", ABORTED: "TFM_ABORTED",
    ERR_NUMERIC: "TFM_ERR_NUMERIC",
}


class TfmError(Exception):
    """A libtransformer call failed."""

    status = None

    def __init__(self, message, status=None, function=None):
        if status is not None:
            self.status = status
        self.message = message
        self.function = function
        text = message
        if function:
            text = "%s: %s" % (function, message)
        text += " [%s]" % self.status_name
        super().__init__(text)

    @property
    def status_name(self):
        return STATUS_NAMES.get(self.status, "status %s" % self.status)


class NoMemoryError(TfmError, MemoryError):
    status = ERR_NOMEM


class InvalidArgumentError(TfmError, ValueError):
    status = ERR_INVALID_ARG


class ShapeError(TfmError, ValueError):
    status = ERR_SHAPE


class DtypeError(TfmError, TypeError):
    status = ERR_DTYPE


class TfmIOError(TfmError, OSError):
    status = ERR_IO


class FormatError(TfmError, ValueError):
    status = ERR_FORMAT


class MisuseError(TfmError, RuntimeError):
    status = ERR_MISUSE


class RangeError(TfmError, ValueError):
    status = ERR_RANGE


class UnsupportedError(TfmError, NotImplementedError):
    status = ERR_UNSUPPORTED


class NotFoundError(TfmError, LookupError):
    status = ERR_NOT_FOUND


class AbortedError(TfmError):
    status = ABORTED


class NumericError(TfmError, ArithmeticError):
    """A NaN or infinity in a model's activations (Context(check_finite=True))."""
    status = ERR_NUMERIC


_BY_STATUS = {c.status: c for c in (
    NoMemoryError, InvalidArgumentError, ShapeError, DtypeError, TfmIOError,
    FormatError, MisuseError, RangeError, UnsupportedError, NotFoundError,
    AbortedError, NumericError)}


def error_for(status, message, function=None):
    """The exception object for a non-zero status."""
    cls = _BY_STATUS.get(status, TfmError)
    return cls(message, status, function)
