#pragma once

// WAGROUPS_API marks the symbols a shared libwagroups exports; everything else stays hidden.
// WAGROUPS_BUILDING is set (privately) while the library itself is compiled, WAGROUPS_SHARED
// (publicly) when it is a shared library.
#if defined(_WIN32) && defined(WAGROUPS_SHARED)
#  if defined(WAGROUPS_BUILDING)
#    define WAGROUPS_API __declspec(dllexport)
#  else
#    define WAGROUPS_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define WAGROUPS_API __attribute__((visibility("default")))
#else
#  define WAGROUPS_API
#endif
