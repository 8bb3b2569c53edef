// The translation unit that builds the shared precompiled header (CMakeLists.txt:
// odf_pch); every other target reuses it.
