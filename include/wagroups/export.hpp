#pragma once

/// @file
/// Symbol visibility. Each installed library exports its own API: `WAGROUPS_API` (the core),
/// `WAGROUPS_SQLITE_API`, `WAGROUPS_POSTGRES_API`, `WAGROUPS_SANDBOX_API`, `WAGROUPS_SANDBOX_SERVER_API`. A library's
/// `*_BUILDING` macro is set (privately) while it is compiled; `WAGROUPS_SHARED` (publicly) when the
/// libraries are shared. On Windows that chooses dllexport or dllimport per library; elsewhere every
/// API symbol has default visibility and the rest stays hidden.

#include "wagroups/config.hpp"

#if defined(_WIN32) && defined(WAGROUPS_SHARED)
#define WAGROUPS_DLL_EXPORT __declspec(dllexport)
#define WAGROUPS_DLL_IMPORT __declspec(dllimport)
#elif defined(__GNUC__) || defined(__clang__)
#define WAGROUPS_DLL_EXPORT __attribute__((visibility("default")))
#define WAGROUPS_DLL_IMPORT __attribute__((visibility("default")))
#else
#define WAGROUPS_DLL_EXPORT
#define WAGROUPS_DLL_IMPORT
#endif

#if defined(WAGROUPS_BUILDING)
#define WAGROUPS_API WAGROUPS_DLL_EXPORT
#else
#define WAGROUPS_API WAGROUPS_DLL_IMPORT
#endif
#if defined(WAGROUPS_SQLITE_BUILDING)
#define WAGROUPS_SQLITE_API WAGROUPS_DLL_EXPORT
#else
#define WAGROUPS_SQLITE_API WAGROUPS_DLL_IMPORT
#endif
#if defined(WAGROUPS_POSTGRES_BUILDING)
#define WAGROUPS_POSTGRES_API WAGROUPS_DLL_EXPORT
#else
#define WAGROUPS_POSTGRES_API WAGROUPS_DLL_IMPORT
#endif
#if defined(WAGROUPS_SANDBOX_BUILDING)
#define WAGROUPS_SANDBOX_API WAGROUPS_DLL_EXPORT
#else
#define WAGROUPS_SANDBOX_API WAGROUPS_DLL_IMPORT
#endif
#if defined(WAGROUPS_SANDBOX_SERVER_BUILDING)
#define WAGROUPS_SANDBOX_SERVER_API WAGROUPS_DLL_EXPORT
#else
#define WAGROUPS_SANDBOX_SERVER_API WAGROUPS_DLL_IMPORT
#endif
