#!/usr/bin/env bash
# make install into a temporary prefix, then build a program against it with
# pkg-config, statically and dynamically, and run both.
set -eu
command -v pkg-config >/dev/null || { echo "pkg-config not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make -s BUILD="$BUILD" install PREFIX=/opt/tfm DESTDIR="$tmp/root" >/dev/null
root="$tmp/root/opt/tfm"
for f in include/transformer.h lib/libtransformer.a lib/libtransformer.so lib/pkgconfig/libtransformer.pc bin/tfm; do
  [ -e "$root/$f" ] || { echo "missing $f"; exit 1; }
done
ver=$(sed -n 's/^#define TFM_VERSION_STRING "\(.*\)"/\1/p' include/transformer.h)
[ -e "$root/lib/libtransformer.so.$ver" ] || { echo "missing versioned .so"; exit 1; }
cat > "$tmp/prog.c" <<'C'
#include <transformer.h>
#include <stdio.h>
int main(void) {
    tfm_ctx *ctx;
    float x[4] = {1, 2, 3, 4}, y[4];
    int64_t shape[1] = {4};
    tfm_tensor tx, ty;
    if (tfm_version_number() != TFM_VERSION_NUMBER) return 3;
    if (tfm_ctx_create(NULL, &ctx) != TFM_OK) return 1;
    tfm_tensor_wrap(&tx, TFM_F32, 1, shape, x);
    tfm_tensor_wrap(&ty, TFM_F32, 1, shape, y);
    if (tfm_softmax(ctx, &tx, NULL, &ty) != TFM_OK) return 2;
    printf("%.4f\n", y[3]);
    tfm_ctx_free(ctx);
    return 0;
}
C
# pkg-config sees the DESTDIR tree through PKG_CONFIG_SYSROOT_DIR
export PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
[ "$(pkg-config --modversion libtransformer)" = "$ver" ] || { echo "pkg-config version mismatch"; exit 1; }
cc -std=c99 $(pkg-config --cflags libtransformer) "$tmp/prog.c" -o "$tmp/dyn" $(pkg-config --libs libtransformer) ${TFM_EXTRA_LDFLAGS:-}
LD_LIBRARY_PATH="$root/lib" "$tmp/dyn" | grep -q '^0.6439$' || { echo "dynamic program failed"; exit 1; }
ldd "$tmp/dyn" | grep -q "libtransformer.so.$(echo "$ver" | cut -d. -f1)" || { echo "not linked dynamically"; exit 1; }
cc -std=c99 $(pkg-config --cflags libtransformer) "$tmp/prog.c" -o "$tmp/sta" \
   "$root/lib/libtransformer.a" $(pkg-config --libs-only-other --static libtransformer) -lm -pthread ${TFM_EXTRA_LDFLAGS:-}
ldd "$tmp/sta" | grep -q libtransformer && { echo "static program links the .so"; exit 1; }
"$tmp/sta" | grep -q '^0.6439$' || { echo "static program failed"; exit 1; }
echo ok
