package replication

import (
	"errors"
	"fmt"
	"testing"
)

// harness drives one Primary by hand, playing its executor and replicas.
type harness struct {
	t   *testing.T
	p   *Primary
	out []Command // every command so far
	new []Command // commands of the last step
}

func testBudgets() Budgets {
	return Budgets{HandshakeTicks: 5, BarrierTicks: 4, CatchUpTicks: 30, CatchUpRecords: 50,
		StallTicks: 8, RebuildTicks: 60, RetryTicks: 2, MaxInFlight: 100}
}

// newHarness promotes a primary at epoch 1 over an empty log with replicas
// ids and drains its first commands.
func newHarness(t *testing.T, mode Mode, ids ...ReplicaID) *harness {
	t.Helper()
	var members []Member
	for _, id := range ids {
		members = append(members, Member{ID: id, Endpoint: string(id) + "@1"})
	}
	return newHarnessConfig(t, PrimaryConfig{Epoch: 1, Mode: mode, Replicas: members, Budgets: testBudgets()})
}

func newHarnessConfig(t *testing.T, cfg PrimaryConfig) *harness {
	t.Helper()
	p, err := NewPrimary(cfg)
	if err != nil {
		t.Fatalf("NewPrimary: %v", err)
	}
	h := &harness{t: t, p: p}
	h.new = p.Ready()
	h.out = append(h.out, h.new...)
	return h
}

func (h *harness) step(ev Event) {
	h.t.Helper()
	if err := h.stepErr(ev); err != nil {
		h.t.Fatalf("step %T %+v: %v", ev, ev, err)
	}
}

func (h *harness) stepErr(ev Event) error {
	err := h.p.Step(ev)
	h.new = h.p.Ready()
	h.out = append(h.out, h.new...)
	return err
}

func (h *harness) ticks(n int) {
	h.t.Helper()
	var all []Command
	for i := 0; i < n; i++ {
		h.step(Tick{})
		all = append(all, h.new...)
	}
	h.new = all
}

// of returns the commands of type T in cmds.
func of[T Command](cmds []Command) []T {
	var out []T
	for _, c := range cmds {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func last[T Command](t *testing.T, cmds []Command) T {
	t.Helper()
	all := of[T](cmds)
	if len(all) == 0 {
		var zero T
		t.Fatalf("no %T among %v", zero, cmds)
	}
	return all[len(all)-1]
}

func (h *harness) sender(id ReplicaID) SenderStatus {
	h.t.Helper()
	for _, s := range h.p.Status().Replicas {
		if s.ID == id {
			return s
		}
	}
	h.t.Fatalf("no replica %s in status", id)
	return SenderStatus{}
}

func (h *harness) stream(id ReplicaID) SessionID { return h.sender(id).Stream }

// hello answers the current handshake of id.
func (h *harness) hello(id ReplicaID, durable, durableEpoch, applied uint64) {
	h.t.Helper()
	h.step(Hello{Replica: id, Session: h.stream(id), Epoch: h.p.Epoch(), Durable: durable, DurableEpoch: durableEpoch, Applied: applied})
}

// lastBarrier is the newest barrier sent to id.
func (h *harness) lastBarrier(id ReplicaID) Barrier {
	h.t.Helper()
	var b Barrier
	found := false
	for _, c := range h.out {
		if v, ok := c.(Barrier); ok && v.Replica == id {
			b, found = v, true
		}
	}
	if !found {
		h.t.Fatalf("no barrier was sent to %s", id)
	}
	return b
}

// ackBarrier answers id's newest barrier with durable.
func (h *harness) ackBarrier(id ReplicaID, durable uint64) {
	h.t.Helper()
	b := h.lastBarrier(id)
	h.step(BarrierAck{Replica: id, Session: b.Session, Epoch: b.Epoch, ID: b.ID, Durable: durable, HasDurable: true})
}

// ack reports that id stored everything shipped to it.
func (h *harness) ack(id ReplicaID) {
	h.t.Helper()
	h.step(Ack{Replica: id, Session: h.stream(id), Epoch: h.p.Epoch(), Received: h.sender(id).Sent})
}

// appendN appends n records of the primary's epoch, fsynced locally when
// durable.
func (h *harness) appendN(n uint64, durable bool) {
	h.t.Helper()
	head := h.p.Status().Head + n
	h.step(Appended{Through: head, Epoch: h.p.Epoch()})
	if durable {
		h.step(LocalDurable{Through: head})
	}
}

// answered returns, for each index, "ack" or "fail" as the primary answered
// client writes, failing the test if one is answered twice.
func (h *harness) answered() map[uint64]string {
	h.t.Helper()
	out := map[uint64]string{}
	for _, c := range h.out {
		switch v := c.(type) {
		case AckWrites:
			for i := v.From; i <= v.Through; i++ {
				if out[i] != "" {
					h.t.Fatalf("write %d answered twice", i)
				}
				out[i] = "ack"
			}
		case FailWrites:
			for i := v.From; i <= v.Through; i++ {
				if out[i] != "" {
					h.t.Fatalf("write %d answered twice", i)
				}
				out[i] = "fail"
			}
		}
	}
	return out
}

func answersText(m map[uint64]string, upTo uint64) string {
	s := ""
	for i := uint64(1); i <= upTo; i++ {
		v := m[i]
		if v == "" {
			v = "-"
		}
		s += v[:1]
	}
	return s
}

// heldPins replays Pin and Unpin and returns the pins still held.
func heldPins(t *testing.T, cmds []Command) map[PinID]Pin {
	t.Helper()
	held := map[PinID]Pin{}
	for _, c := range cmds {
		switch v := c.(type) {
		case Pin:
			held[v.ID] = v
		case Unpin:
			if _, ok := held[v.ID]; !ok {
				t.Fatalf("unpin of pin %d that is not held", v.ID)
			}
			delete(held, v.ID)
		case EndSession:
			for _, p := range held {
				if p.Session == v.Session && p.Replica == v.Replica {
					t.Fatalf("session %d ended (%s) before its pin %d was released", v.Session, v.Outcome, p.ID)
				}
			}
		}
	}
	return held
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one wrapping %v", err, target)
	}
}

func hash(b byte) [32]byte {
	var h [32]byte
	h[0] = b
	return h
}

func ids(n int) []ReplicaID {
	out := make([]ReplicaID, n)
	for i := range out {
		out[i] = ReplicaID(fmt.Sprintf("r%d", i+1))
	}
	return out
}
