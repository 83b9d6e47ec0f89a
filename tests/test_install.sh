#!/bin/sh
# tests/test_install.sh BUILD_DIR SOURCE_DIR CC [EXTRA_CFLAGS]
#
# `make install` as a C user meets it: install the build into a temporary
# DESTDIR (prefix /opt/sbert), then compile and link a small C program against
# it through pkg-config (PKG_CONFIG_PATH) -- once against libsbert.so, once
# against libsbert.a -- and run both on the tiny BERT of tests/data/models.
# Also checks the SONAME, that the .so exports exactly the functions of
# include/sbert.h, and that the installed `sbert` runs. Writes only under a
# mktemp directory (cmake itself records install_manifest.txt in BUILD_DIR).
set -eu
BUILD=$1
SRC=$2
CC=$3
EXTRA=${4:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/sbert_install_XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR="$T/root" cmake --install "$BUILD" --prefix /opt/sbert >"$T/install.log" 2>&1 ||
  { cat "$T/install.log" >&2; fail "cmake --install"; }
P="$T/root/opt/sbert"
for f in include/sbert.h lib/libsbert.a lib/libsbert.so lib/libsbert.so.0 lib/pkgconfig/sbert.pc bin/sbert; do
  [ -e "$P/$f" ] || fail "$f not installed (have: $(cd "$P" && find . | tr '\n' ' '))"
done
echo "ok: installed include/sbert.h, lib/libsbert.{a,so,so.0}, lib/pkgconfig/sbert.pc, bin/sbert"

soname=$(readelf -d "$P/lib/libsbert.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsbert.so.0" ] || fail "SONAME is '$soname', want libsbert.so.0"
want=$(grep -oE 'sbert_[a-z0-9_]+[[:space:]]*\(' "$SRC/include/sbert.h" | sed 's/[[:space:]]*($//' | sort -u)
have=$(nm -D --defined-only "$P/lib/libsbert.so" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort -u)
[ "$want" = "$have" ] || fail "exported functions differ from include/sbert.h: $(printf '%s\n' "$want" "$have" | sort | uniq -u | tr '\n' ' ')"
echo "ok: SONAME $soname, exports the $(printf '%s\n' "$have" | wc -l) functions of sbert.h and nothing else"

"$P/bin/sbert" --version >"$T/version.txt" 2>&1 || fail "installed sbert --version: $(cat "$T/version.txt")"
echo "ok: installed sbert runs: $(head -1 "$T/version.txt")"

export PKG_CONFIG_PATH="$P/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[ "$(pkg-config --modversion sbert)" = "$(sed -n 's/^project(sbert VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")" ] ||
  fail "pkg-config --modversion sbert: $(pkg-config --modversion sbert 2>&1)"
libdir=$(pkg-config --variable=libdir sbert)

cat >"$T/hello.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <sbert.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    sbert_model *m = NULL;
    if (sbert_model_load(argv[1], NULL, &m) != SBERT_OK) {
        fprintf(stderr, "load: %s\n", sbert_last_error());
        return 1;
    }
    const char *texts[2] = {"A man is playing a guitar.", "A cat sleeps."};
    sbert_encode_options o = sbert_encode_options_default();
    size_t dim = sbert_model_encode_dim(m, &o);
    float *emb = malloc(2 * dim * sizeof *emb);
    if (!emb || sbert_model_encode(m, texts, 2, &o, emb) != SBERT_OK) {
        fprintf(stderr, "encode: %s\n", sbert_last_error());
        return 1;
    }
    double norm = 0;
    for (size_t i = 0; i < dim; i++) norm += (double)emb[i] * emb[i];
    printf("sbert %s dim %zu norm %.3f\n", sbert_version(), dim, sqrt(norm));
    free(emb);
    sbert_model_free(m);
    return norm > 0 ? 0 : 1;
}
C
MODEL="$SRC/tests/data/models/tiny-bert"
# shared: pkg-config --cflags --libs sbert, found at run time through the rpath
# shellcheck disable=SC2046,SC2086
"$CC" $EXTRA -o "$T/hello_shared" "$T/hello.c" $(pkg-config --cflags --libs sbert) -lm \
  -Wl,-rpath,"$libdir" 2>"$T/cc.log" || { cat "$T/cc.log" >&2; fail "compile+link against libsbert.so"; }
readelf -d "$T/hello_shared" | grep -q 'NEEDED.*libsbert\.so\.0' || fail "hello_shared does not use libsbert.so.0"
out=$("$T/hello_shared" "$MODEL") || fail "hello_shared: $out"
case $out in *"dim 32 "*) ;; *) fail "hello_shared printed '$out'" ;; esac
echo "ok: linked with pkg-config --libs sbert (libsbert.so.0): $out"

# static: libsbert.a plus pkg-config --static's private dependencies
# shellcheck disable=SC2046,SC2086
"$CC" $EXTRA -o "$T/hello_static" "$T/hello.c" $(pkg-config --cflags sbert) "$libdir/libsbert.a" \
  $(pkg-config --static --libs sbert | sed 's/-lsbert\b//') -lm 2>"$T/cc.log" ||
  { cat "$T/cc.log" >&2; fail "compile+link against libsbert.a"; }
readelf -d "$T/hello_static" | grep -q 'libsbert' && fail "hello_static depends on libsbert.so"
out=$("$T/hello_static" "$MODEL") || fail "hello_static: $out"
case $out in *"dim 32 "*) ;; *) fail "hello_static printed '$out'" ;; esac
echo "ok: linked with libsbert.a + pkg-config --static --libs sbert: $out"
echo "test_install: all passed"
