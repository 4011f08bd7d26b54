// Command reprise is the Reprise binary: the server, the catalog tools
// (build, seal, inspect), and later replay and WAL/snapshot inspection.
//
// It owns the command line and configuration (cobra and viper) and wires
// the packages together; it must hold no logic of its own that a library
// package would need.
package main
