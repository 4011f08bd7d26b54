package seal

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

func TestSealGoReactor(t *testing.T) {
	in := goReactor(t)
	before := mustParse(t, in)
	out, rep, err := Seal(in)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AlreadySealed {
		t.Fatal("a module with imports was reported as already sealed")
	}
	after := mustParse(t, out)
	if len(after.Imports) != 0 {
		t.Fatalf("sealed module still has %d imports", len(after.Imports))
	}

	// The report lists every import in order, fd_write twice.
	if len(rep.Virtualised) != len(before.Imports) {
		t.Fatalf("virtualised %d of %d imports", len(rep.Virtualised), len(before.Imports))
	}
	fdWrites := 0
	for i, im := range before.Imports {
		if want := im.Module + "." + im.Name; rep.Virtualised[i] != want {
			t.Errorf("Virtualised[%d] = %q, want %q", i, rep.Virtualised[i], want)
		}
		if im.Name == "fd_write" {
			fdWrites++
		}
	}
	if fdWrites != 2 {
		t.Errorf("the Go reactor was expected to import fd_write twice, found %d", fdWrites)
	}

	// Index preservation: same function count, imports became the first
	// defined functions with the same types, every other body unchanged.
	n := len(before.Imports)
	if after.NumFuncs() != before.NumFuncs() {
		t.Fatalf("function count changed from %d to %d", before.NumFuncs(), after.NumFuncs())
	}
	for i := 0; i < n; i++ {
		if after.Funcs[i] != before.Imports[i].Func {
			t.Errorf("function %d has type %d, the import had %d", i, after.Funcs[i], before.Imports[i].Func)
		}
	}
	for i := range before.Code {
		if !bytes.Equal(after.Code[n+i].Code, before.Code[i].Code) {
			t.Fatalf("body of function %d changed", n+i)
		}
	}
	for i, e := range before.Exports {
		if after.Exports[i] != e {
			t.Errorf("export %d changed from %+v to %+v", i, e, after.Exports[i])
		}
	}
	if len(after.Globals) != len(before.Globals)+2 {
		t.Errorf("expected two appended globals (clock, random), got %d more", len(after.Globals)-len(before.Globals))
	}

	// The record is the last section and says what was done.
	last := after.Customs[len(after.Customs)-1]
	if last.Name != RecordSection || last.After != wasmbin.SectionData {
		t.Fatalf("last custom section is %q after %d, want %q after data", last.Name, last.After, RecordSection)
	}
	if !bytes.HasSuffix(out, last.Data) {
		t.Fatal("the record is not the last thing in the module")
	}
	rec, ok, err := ReadRecord(after)
	if err != nil || !ok || rec.Version != Version || strings.Join(rec.Virtualised, ",") != strings.Join(rep.Virtualised, ",") {
		t.Fatalf("ReadRecord = %+v, %v, %v", rec, ok, err)
	}

	// Same input, same output; sealing again changes nothing.
	out2, _, err := Seal(in)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("second seal differs (err %v)", err)
	}
	out3, rep3, err := Seal(out)
	if err != nil || !rep3.AlreadySealed || !bytes.Equal(out3, out) {
		t.Fatalf("sealing a sealed module: AlreadySealed=%v, unchanged=%v, err %v", rep3.AlreadySealed, bytes.Equal(out3, out), err)
	}

	validate(t, out)
}

func TestSealedGoReactorRuns(t *testing.T) {
	out, _, err := Seal(goReactor(t))
	if err != nil {
		t.Fatal(err)
	}
	results := map[string][]uint64{}
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			rt, compiled := compile(t, engine.config(), out)
			a := instantiate(t, rt, compiled, "_initialize")
			b := instantiate(t, rt, compiled, "_initialize")

			// Time: strictly increasing, sleeping moves it by at least the
			// duration, and it starts from a plausible, fixed epoch.
			t1 := int64(call(t, a, "now")[0])
			t2 := int64(call(t, a, "now")[0])
			if t1 < clockStart || t2 <= t1 {
				t.Errorf("now() returned %d then %d; want increasing values from %d", t1, t2, int64(clockStart))
			}
			m1 := int64(call(t, a, "monotonic")[0])
			m2 := int64(call(t, a, "monotonic")[0])
			if m2 <= m1 {
				t.Errorf("monotonic() returned %d then %d", m1, m2)
			}
			slept := int64(call(t, a, "sleep", 25)[0])
			if slept < 25_000_000 {
				t.Errorf("sleep(25ms) measured %d ns", slept)
			}
			if t3 := int64(call(t, a, "now")[0]); t3-t2 < 25_000_000 {
				t.Errorf("the clock moved %d ns across a 25 ms sleep", t3-t2)
			}

			// Randomness: the same sequence in two instances.
			var seqA, seqB []uint64
			for i := 0; i < 4; i++ {
				seqA = append(seqA, call(t, a, "random")[0])
				seqB = append(seqB, call(t, b, "random")[0])
			}
			for i := range seqA {
				if seqA[i] != seqB[i] {
					t.Fatalf("random sequences differ between instances: %x vs %x", seqA, seqB)
				}
			}
			if seqA[0] == seqA[1] {
				t.Errorf("random returned %x twice", seqA[0])
			}

			if got := call(t, a, "print_line")[0]; got != 1 {
				t.Errorf("print_line() = %d, want 1 (stdout and stderr writes succeed)", got)
			}
			if got := call(t, a, "json_round_trip")[0]; got == 0 {
				t.Error("json_round_trip() failed inside the sealed module")
			}
			if got := call(t, a, "read_file")[0]; got != 1 {
				t.Errorf("read_file() = %d, want 1 (an error, not a trap)", got)
			}
			if got := call(t, a, "read_stdin")[0]; got != 1 {
				t.Errorf("read_stdin() = %d, want 1 (end of file)", got)
			}

			if _, err := a.ExportedFunction("exit").Call(context.Background()); err == nil {
				t.Error("exit() returned normally; os.Exit must trap in a sealed module")
			} else if !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("exit() failed with %v, want the unreachable trap", err)
			}

			results[engine.name] = append(append([]uint64{uint64(t1), uint64(t2), uint64(slept)}, seqA...), seqB...)
		})
	}
	// Both engines compute the same values.
	if c, i := results["compiler"], results["interpreter"]; len(c) > 0 && len(i) > 0 && !slices.Equal(c, i) {
		t.Errorf("engines disagree:\n compiler    %v\n interpreter %v", c, i)
	}
}
