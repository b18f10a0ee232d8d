"""The ctypes structures mirror include/transformer.h: a C program compiled
against the header prints every size and field offset, which must equal
ctypes'. Also: every function the package declares exists in the header."""
import ctypes
import os
import re
import subprocess

import pytest

from libtransformer import _ffi
from conftest import ROOT, have_cc

HEADER = os.path.join(ROOT, "include", "transformer.h")


def _layout_program():
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "transformer.h"',
             "int main(void) {"]
    for s in _ffi.STRUCTS:
        c = s._c_name_
        lines.append('    printf("%s %%zu\\n", sizeof(%s));' % (c, c))
        for f, _ in s._fields_:
            lines.append('    printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (c, f, c, f))
    lines += ["    return 0;", "}"]
    return "\n".join(lines)


@pytest.mark.skipif(not have_cc(), reason="no C compiler")
def test_struct_layouts(tmp_path):
    src = tmp_path / "layout.c"
    exe = tmp_path / "layout"
    src.write_text(_layout_program())
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=c99", "-I", os.path.join(ROOT, "include"), str(src), "-o",
                        str(exe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr.decode()
    c = dict(line.split() for line in subprocess.check_output([str(exe)]).decode().splitlines())
    mismatches = []
    for s in _ffi.STRUCTS:
        name = s._c_name_
        if int(c[name]) != ctypes.sizeof(s):
            mismatches.append("sizeof(%s): C %s, ctypes %d" % (name, c[name], ctypes.sizeof(s)))
        for f, _ in s._fields_:
            off = getattr(s, f).offset
            if int(c["%s.%s" % (name, f)]) != off:
                mismatches.append("%s.%s: C offset %s, ctypes %d"
                                  % (name, f, c["%s.%s" % (name, f)], off))
    assert not mismatches, "\n".join(mismatches)


def test_struct_field_names_match_header():
    # Field lists in the header (for structs whose fields are one per line
    # or comma-separated) must name the same fields in the same order.
    text = open(HEADER).read()
    for s in _ffi.STRUCTS:
        m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (s._c_name_, s._c_name_), text, re.S)
        assert m, "no definition of %s in the header" % s._c_name_
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
        names = []
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            if "(" in decl:  # a function pointer
                names.append(re.search(r"\(\s*\*\s*(\w+)\s*\)", decl).group(1))
                continue
            # "const tfm_tensor *wq, *bq" or "int64_t kdim, vdim" or "float x[4]"
            first, *rest = decl.split(",")
            parts = [first.split()[-1]] + [r.strip() for r in rest]
            names += [re.sub(r"[\*\s]|\[.*\]", "", p) for p in parts]
        assert names == [f for f, _ in s._fields_], s._c_name_


def test_declared_functions_are_in_the_header():
    text = open(HEADER).read()
    declared = set(re.findall(r"\b(tfm_\w+)\s*\(", text))
    missing = [n for n in _ffi._FUNCS if n not in declared]
    assert not missing, missing


def test_every_function_has_a_prototype(lib):
    # restype and argtypes are set for every function the package uses
    for name in _ffi._FUNCS:
        if not lib.has(name):
            assert name in _ffi.OPTIONAL
            continue
        f = getattr(lib, name)
        assert f.argtypes is not None, name
        assert f.restype is not ctypes.c_int or _ffi._FUNCS[name][0] is ctypes.c_int, name


def test_output_structs_are_sized_before_the_call(lib):
    # The library writes an output struct only up to the struct_size the
    # package set (docs/ABI.md): its init function sets the package's size.
    for s, init in ((_ffi.tfm_safetensors_info, "tfm_safetensors_info_init"),
                    (_ffi.tfm_gen_stats, "tfm_gen_stats_init")):
        assert s._fields_[0][0] == "struct_size"
        assert _ffi.default_struct(s, init).struct_size == ctypes.sizeof(s)
