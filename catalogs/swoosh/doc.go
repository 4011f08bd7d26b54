// Package swoosh is the SWOOSH orchestration state machine as a Reprise
// catalog: the licence check, the three parallel project-lifecycle regions
// (ingestion, council, environment), the PLAN → WORK → REVIEW → REVERB
// execution loop, the control states, sticky quarantine and the
// compensations of PROVISION, ELECT and INDEX. README.md beside this file
// documents every state field and every transition.
//
// It owns the catalog's rules and the JSON shape of its state (field names
// are an API: a rename is a migration). It must never read a clock or the
// outside world: every fact a guard needs arrives as a transition input or
// is a proposal field the primary recorded (timestamp, HLC).
package swoosh
