#!/usr/bin/env bash
# The public header compiles as strict C99 and as C++ (98 and 11), alone.
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include <transformer.h>\nint main(void) { return tfm_version_number() == TFM_VERSION_NUMBER ? 0 : 1; }\n' > "$tmp/a.c"
cp "$tmp/a.c" "$tmp/a.cpp"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude -c "$tmp/a.c" -o "$tmp/a.o"
if command -v g++ >/dev/null; then
  g++ -std=c++98 -Wall -Wextra -Wpedantic -Werror -Iinclude -c "$tmp/a.cpp" -o "$tmp/b.o"
  g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude "$tmp/a.cpp" "$BUILD/libtransformer.a" -lm -pthread ${TFM_EXTRA_LDFLAGS:-} -o "$tmp/b"
  "$tmp/b"
fi
if command -v clang++ >/dev/null; then
  clang++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude -c "$tmp/a.cpp" -o "$tmp/c.o"
fi
echo ok
