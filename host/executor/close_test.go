package executor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/reprise-dev/reprise/host/executor"
)

// TestSubmitRacingCloseAlwaysReturns closes the executor while submitters
// are busy: every Submit returns (a verdict or ErrClosed, never a hang),
// and after reopening the state holds exactly the acknowledged records.
func TestSubmitRacingCloseAlwaysReturns(t *testing.T) {
	const rounds, submitters = 5, 8
	for round := range rounds {
		cfg := config(t, t.TempDir())
		e := open(t, cfg)
		var acked atomic.Int64
		perKey := make([]int64, submitters)
		var wg sync.WaitGroup
		started := make(chan struct{}, submitters)
		errs := make(chan error, submitters)
		for g := range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					v, err := e.Submit(context.Background(), executor.Submission{Proposal: inc(fmt.Sprintf("g%d", g), 1)})
					if i == 0 {
						started <- struct{}{}
					}
					if errors.Is(err, executor.ErrClosed) {
						return
					}
					if err != nil || !v.Accepted {
						errs <- fmt.Errorf("round %d submitter %d: %+v, %v", round, g, v, err)
						return
					}
					perKey[g]++
					acked.Add(1)
				}
			}()
		}
		for range submitters {
			<-started
		}
		closeExec(t, e)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		e = open(t, cfg)
		pos := readPosition(t, e)
		if pos.Index != genesis+uint64(acked.Load()) {
			t.Fatalf("round %d: reopened at index %d, but %d submissions were acknowledged after the genesis record", round, pos.Index, acked.Load())
		}
		for g, n := range perKey {
			if n > 0 && !strings.Contains(pos.View, fmt.Sprintf(`"g%d":%d`, g, n)) {
				t.Fatalf("round %d: state %s, want g%d = %d", round, pos.View, g, n)
			}
		}
		closeExec(t, e)
	}
}
