// Package catalogstore is the durable, content-addressed store of sealed
// catalog modules: one directory (DATA_DIR/catalogs on a server) holding
// each module under the hex SHA-256 of its bytes, beside a small canonical
// JSON file with what the module says about itself (name, version,
// transitions, the versions it migrates from) and when it was first stored.
//
// It admits a module through a host.Engine, exactly as the host would run
// it, before writing anything; writes with temp file, fsync, rename and
// directory fsync; and checks the SHA-256 of a module's bytes on every read.
//
// It never stores a module the engine refuses, never leaves a partly written
// file under a final name, never hands out (or loads) bytes whose hash it has
// not just checked, and never removes a catalog its caller says is in use.
// Which catalogs are in use, and which one is active, is the executor's
// knowledge, not this package's.
package catalogstore
