package executor

import (
	"context"
	"errors"
)

// Test-only access to the executor's internals, for the external tests.

// SimulateCrash stops the executor the way a crash leaves its data
// directory, as far as the executor's own files are concerned: the writer
// stops after the batch in hand, background snapshots already started
// finish, but no final snapshot is taken and no further compaction runs.
// The WAL, snapshot store and catalog instance are then released so that
// the directory can be opened again.
func (e *Executor) SimulateCrash() error {
	var err error
	e.once.Do(func() {
		close(e.closed)
		<-e.done
		e.snapshotting.Wait()
		e.snapMu.Lock() // a Snapshot call in progress finishes first
		defer e.snapMu.Unlock()
		err = errors.Join(e.machine.Close(context.Background()), e.snaps.Close(), e.wal.Close())
	})
	return err
}

// Queued is the number of submissions waiting for the writer.
func (e *Executor) Queued() int { return len(e.in) }
