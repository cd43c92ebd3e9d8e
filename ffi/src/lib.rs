//! C API over `stamen-core`. See `ffi/README.md` for the conventions.
