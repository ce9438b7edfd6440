#pragma once

// A test-only SQLite VFS that wraps the default one and fails file operations on command: the
// disk filling up (xWrite answers SQLITE_FULL) or I/O errors (xWrite, xSync or xRead answer
// SQLITE_IOERR_*), after a given number of matching calls. Registered as the default VFS while an
// instance lives, so SqliteTicketStore::open (which names no VFS) goes through it unchanged.
//
// Once a fault fires it stays on until `clear()`, as a full disk stays full: SQLite cannot get
// past it by retrying, and the unit that met it must fail. Only the files named by the fault's
// target are affected (the database, its WAL, or any file).

#include <sqlite3.h>

#include <cstring>
#include <stdexcept>

namespace wagroups_sqlite_test {

class FaultVfs {
 public:
  enum class Kind { none, write_full, write_ioerr, sync_ioerr, read_ioerr };
  enum class Target { any, main_db, wal };

  FaultVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    if (real_ == nullptr) throw std::runtime_error("no default SQLite VFS");
    std::memset(&vfs_, 0, sizeof vfs_);
    vfs_.iVersion = 1;  // the version-1 calls; SQLite falls back for the rest
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.mxPathname = real_->mxPathname;
    vfs_.zName = "wagroups-fault";
    vfs_.pAppData = this;
    vfs_.xOpen = &FaultVfs::open;
    vfs_.xDelete = [](sqlite3_vfs* v, const char* name, int sync) { return real(v)->xDelete(real(v), name, sync); };
    vfs_.xAccess = [](sqlite3_vfs* v, const char* name, int flags, int* out) {
      return real(v)->xAccess(real(v), name, flags, out);
    };
    vfs_.xFullPathname = [](sqlite3_vfs* v, const char* name, int n, char* out) {
      return real(v)->xFullPathname(real(v), name, n, out);
    };
    vfs_.xDlOpen = [](sqlite3_vfs* v, const char* name) { return real(v)->xDlOpen(real(v), name); };
    vfs_.xDlError = [](sqlite3_vfs* v, int n, char* out) { real(v)->xDlError(real(v), n, out); };
    vfs_.xDlSym = [](sqlite3_vfs* v, void* handle, const char* name) { return real(v)->xDlSym(real(v), handle, name); };
    vfs_.xDlClose = [](sqlite3_vfs* v, void* handle) { real(v)->xDlClose(real(v), handle); };
    vfs_.xRandomness = [](sqlite3_vfs* v, int n, char* out) { return real(v)->xRandomness(real(v), n, out); };
    vfs_.xSleep = [](sqlite3_vfs* v, int us) { return real(v)->xSleep(real(v), us); };
    vfs_.xCurrentTime = [](sqlite3_vfs* v, double* out) { return real(v)->xCurrentTime(real(v), out); };
    vfs_.xGetLastError = [](sqlite3_vfs* v, int n, char* out) { return real(v)->xGetLastError(real(v), n, out); };

    std::memset(&methods_, 0, sizeof methods_);
    methods_.iVersion = 2;  // through the shared-memory calls WAL needs; no memory-mapped I/O
    methods_.xClose = &FaultVfs::close;
    methods_.xRead = &FaultVfs::read;
    methods_.xWrite = &FaultVfs::write;
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
      return inner(f)->pMethods->xTruncate(inner(f), size);
    };
    methods_.xSync = &FaultVfs::sync;
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* out) {
      return inner(f)->pMethods->xFileSize(inner(f), out);
    };
    methods_.xLock = [](sqlite3_file* f, int level) { return inner(f)->pMethods->xLock(inner(f), level); };
    methods_.xUnlock = [](sqlite3_file* f, int level) { return inner(f)->pMethods->xUnlock(inner(f), level); };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* out) {
      return inner(f)->pMethods->xCheckReservedLock(inner(f), out);
    };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* arg) {
      return inner(f)->pMethods->xFileControl(inner(f), op, arg);
    };
    methods_.xSectorSize = [](sqlite3_file* f) { return inner(f)->pMethods->xSectorSize(inner(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
      return inner(f)->pMethods->xDeviceCharacteristics(inner(f));
    };
    methods_.xShmMap = [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      return inner(f)->pMethods->xShmMap(inner(f), page, size, extend, out);
    };
    methods_.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
      return inner(f)->pMethods->xShmLock(inner(f), offset, n, flags);
    };
    methods_.xShmBarrier = [](sqlite3_file* f) { inner(f)->pMethods->xShmBarrier(inner(f)); };
    methods_.xShmUnmap = [](sqlite3_file* f, int del) { return inner(f)->pMethods->xShmUnmap(inner(f), del); };

    if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK) throw std::runtime_error("cannot register the fault VFS");
  }
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;
  ~FaultVfs() {
    // Every connection opened through it must be closed by now (the stores are scoped inside).
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, 1);
  }

  /// Fails the (skip + 1)th matching call from now on, and every matching call after it.
  void arm(Kind kind, Target target, int skip) {
    kind_ = kind;
    target_ = target;
    skip_ = skip;
    fired_ = false;
  }
  void clear() { kind_ = Kind::none; }
  /// Whether the armed fault has failed a call.
  bool fired() const { return fired_; }
  /// Calls that reached the real VFS's xWrite on the database or WAL, for choosing fault points.
  long writes() const { return writes_; }

 private:
  struct File {
    sqlite3_file base;
    FaultVfs* owner;
    Target role;
    sqlite3_file* inner() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  static sqlite3_vfs* real(sqlite3_vfs* v) { return static_cast<FaultVfs*>(v->pAppData)->real_; }
  static sqlite3_file* inner(sqlite3_file* f) { return reinterpret_cast<File*>(f)->inner(); }

  static int open(sqlite3_vfs* v, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    auto* self = static_cast<FaultVfs*>(v->pAppData);
    auto* file = reinterpret_cast<File*>(f);
    file->base.pMethods = nullptr;  // SQLite calls no method of a file whose open failed
    file->owner = self;
    file->role = (flags & SQLITE_OPEN_MAIN_DB) != 0 ? Target::main_db
                 : (flags & SQLITE_OPEN_WAL) != 0   ? Target::wal
                                                    : Target::any;
    const int rc = self->real_->xOpen(self->real_, name, file->inner(), flags, out_flags);
    if (file->inner()->pMethods != nullptr) file->base.pMethods = &self->methods_;
    return rc;
  }

  /// Whether this call of `kind` on `file` is to fail.
  bool should_fail(File* file, Kind kind) {
    if (kind_ != kind) return false;
    if (target_ != Target::any && target_ != file->role) return false;
    if (skip_ > 0) {
      --skip_;
      return false;
    }
    fired_ = true;
    return true;
  }

  static int close(sqlite3_file* f) {
    const int rc = inner(f)->pMethods->xClose(inner(f));
    f->pMethods = nullptr;
    return rc;
  }
  static int read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
    auto* file = reinterpret_cast<File*>(f);
    if (file->owner->should_fail(file, Kind::read_ioerr)) return SQLITE_IOERR_READ;
    return inner(f)->pMethods->xRead(inner(f), out, n, offset);
  }
  static int write(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
    auto* file = reinterpret_cast<File*>(f);
    FaultVfs& self = *file->owner;
    if (self.should_fail(file, Kind::write_full)) return SQLITE_FULL;
    if (self.should_fail(file, Kind::write_ioerr)) return SQLITE_IOERR_WRITE;
    if (file->role != Target::any) ++self.writes_;
    return inner(f)->pMethods->xWrite(inner(f), data, n, offset);
  }
  static int sync(sqlite3_file* f, int flags) {
    auto* file = reinterpret_cast<File*>(f);
    if (file->owner->should_fail(file, Kind::sync_ioerr)) return SQLITE_IOERR_FSYNC;
    return inner(f)->pMethods->xSync(inner(f), flags);
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_;
  sqlite3_io_methods methods_;
  Kind kind_ = Kind::none;
  Target target_ = Target::any;
  int skip_ = 0;
  bool fired_ = false;
  long writes_ = 0;
};

}  // namespace wagroups_sqlite_test
