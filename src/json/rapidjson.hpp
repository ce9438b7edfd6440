#pragma once

// RapidJSON, as every wagroups translation unit sees it. The build configures it once, with compile
// definitions on the `wagroups_rapidjson` interface target (src/CMakeLists.txt), never with a
// #define in a header that some files might include after RapidJSON's own:
//  - RAPIDJSON_NAMESPACE=wagroups_rapidjson: our instantiations get names of their own, so a host
//    that links its own RapidJSON (another version or configuration) meets no clashing symbols in a
//    static link;
//  - no RAPIDJSON_SSE2: its scanner reads whole 16-byte blocks past the end of an unpadded buffer,
//    and the tests parse plain strings with the same configuration as the library.
// The alias keeps the familiar spelling in our sources; an alias defines no symbol.

#if !defined(RAPIDJSON_NAMESPACE) || !defined(RAPIDJSON_NAMESPACE_BEGIN)
#error "RapidJSON is configured by the build: link the wagroups_rapidjson target"
#endif

#include <rapidjson/rapidjson.h>

namespace rapidjson = RAPIDJSON_NAMESPACE;
