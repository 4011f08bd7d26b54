package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestListAndOpenLatestDuringWrites(t *testing.T) {
	const (
		writes = 25
		size   = 256 << 10
	)
	payloads := make([][]byte, writes+1)
	for i := range payloads {
		payloads[i] = testPayload(uint64(i), size)
	}
	s := openStore(t, t.TempDir(), Options{Keep: 2})

	var committed atomic.Uint64 // highest index whose Write has returned
	stop := make(chan struct{})
	var readers sync.WaitGroup
	check := func(name string, body func() error) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for rounds := 0; ; rounds++ {
				select {
				case <-stop:
					if rounds == 0 {
						t.Errorf("%s never ran", name)
					}
					return
				default:
				}
				if err := body(); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
			}
		}()
	}
	check("List", func() error {
		before := committed.Load()
		infos, err := s.List()
		if err != nil {
			return err
		}
		for i, info := range infos {
			if !info.Valid {
				return fmt.Errorf("index %d listed invalid: %w", info.Index, info.Err)
			}
			if strings.HasSuffix(info.Path, tempSuffix) {
				return fmt.Errorf("temp file listed: %s", info.Path)
			}
			if i > 0 && info.Index >= infos[i-1].Index {
				return fmt.Errorf("not newest first: %d after %d", info.Index, infos[i-1].Index)
			}
		}
		if before > 0 && (len(infos) == 0 || infos[0].Index < before) {
			return fmt.Errorf("List misses index %d, committed before it started: %+v", before, infos)
		}
		return nil
	})
	check("OpenLatest", func() error {
		before := committed.Load()
		r, err := s.OpenLatest()
		if errors.Is(err, ErrNoSnapshot) && before == 0 {
			return nil
		}
		if err != nil {
			return err
		}
		defer r.Close()
		if r.Meta.Index < before {
			return fmt.Errorf("OpenLatest returned %d, older than %d committed before it started", r.Meta.Index, before)
		}
		got, err := io.ReadAll(r.Payload())
		if err != nil {
			return err
		}
		if !bytes.Equal(got, payloads[r.Meta.Index]) {
			return fmt.Errorf("payload of index %d differs", r.Meta.Index)
		}
		return nil
	})

	for index := uint64(1); index <= writes; index++ {
		writeSnapshot(t, s, index, payloads[index])
		committed.Store(index)
	}
	close(stop)
	readers.Wait()
	wantIndexes(t, s, writes, writes-1)
}

func TestConcurrentWrites(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{Keep: 100})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				index := uint64(w*5 + i + 1)
				if _, err := s.Write(testMeta(index), chunkedWrite(testPayload(index, 50_000))); err != nil {
					t.Errorf("Write(%d): %v", index, err)
				}
			}
		}()
	}
	wg.Wait()
	want := make([]uint64, 0, 20)
	for index := uint64(20); index >= 1; index-- {
		want = append(want, index)
	}
	wantIndexes(t, s, want...)
	for _, index := range want {
		r, err := s.OpenAt(index)
		if err != nil {
			t.Fatalf("OpenAt(%d): %v", index, err)
		}
		if !bytes.Equal(readPayload(t, r), testPayload(index, 50_000)) {
			t.Fatalf("payload of %d differs", index)
		}
		r.Close()
	}
}
