#!/bin/sh
# Installs libstamen under PREFIX:
#   PREFIX/include/stamen.h
#   PREFIX/lib/libstamen.a, PREFIX/lib/libstamen.so
#   PREFIX/lib/pkgconfig/stamen.pc
#
# Usage: ffi/install.sh PREFIX
# By default builds the release libraries with cargo first (honours
# CARGO_TARGET_DIR). Set STAMEN_LIB_DIR to install already-built libraries
# from that directory instead (no build).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$1
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${STAMEN_LIB_DIR:-}" ]; then
    libdir_src=$STAMEN_LIB_DIR
else
    cargo build --release -p stamen-ffi --lib --manifest-path "$here/../Cargo.toml"
    libdir_src=${CARGO_TARGET_DIR:-$here/../target}/release
fi
for f in libstamen.a libstamen.so; do
    if [ ! -f "$libdir_src/$f" ]; then
        echo "$0: $libdir_src/$f not found (build with: cargo build --release -p stamen-ffi)" >&2
        exit 1
    fi
done

# The version comes from the header, which a test keeps equal to Cargo.toml.
version=$(awk '/^#define STAMEN_VERSION_(MAJOR|MINOR|PATCH) /{ v = v (v == "" ? "" : ".") $3 } END { print v }' \
    "$here/include/stamen.h")
case $version in
    *.*.*) ;;
    *) echo "$0: cannot read the version from include/stamen.h" >&2; exit 1 ;;
esac

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
prefix=$(cd "$prefix" && pwd)
cp "$here/include/stamen.h" "$prefix/include/stamen.h"
chmod 644 "$prefix/include/stamen.h"
cp "$libdir_src/libstamen.a" "$prefix/lib/libstamen.a"
chmod 644 "$prefix/lib/libstamen.a"
cp "$libdir_src/libstamen.so" "$prefix/lib/libstamen.so"
chmod 755 "$prefix/lib/libstamen.so"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$here/stamen.pc.in" \
    > "$prefix/lib/pkgconfig/stamen.pc"
chmod 644 "$prefix/lib/pkgconfig/stamen.pc"
echo "installed libstamen $version under $prefix"
