package transport

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/wal"
)

// BenchmarkShipLoopback ships b.N records (300-byte inputs, like a counter
// transition) in Ships of 512 over loopback to a receiver that decodes and
// checks them, as a catch-up does. In the same run it measures the baseline:
// the same encoded record bytes over a plain TCP connection, read without
// decoding. It reports records/s for both and their ratio.
func BenchmarkShipLoopback(b *testing.B) {
	const perShip = 512
	client, server := pair(b, testConfig("primary"), testConfig("replica"))
	template := testShip(1, perShip, 1, 300)
	var recordBytes int
	for i := range template.Records {
		enc, err := template.Records[i].MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		recordBytes += len(enc)
	}
	bytesPerRecord := float64(recordBytes) / perShip

	received := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() {
		var got int
		for got < b.N {
			env, err := server.Recv()
			if err != nil {
				received <- err
				return
			}
			got += len(env.Records)
		}
		received <- nil
	}()
	records := make([]wal.Record, perShip)
	copy(records, template.Records)
	for from := 1; from <= b.N; from += perShip {
		n := min(perShip, b.N-from+1)
		for i := range n {
			records[i].Index = uint64(from + i)
		}
		ship := replication.Ship{Replica: "r1", Session: 7, Epoch: 1, From: uint64(from), Through: uint64(from + n - 1), FirstEpoch: 1, LastEpoch: 1}
		if err := client.Send(Envelope{Msg: ship, Records: records[:n]}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-received; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	rawElapsed := rawLoopback(b, int(bytesPerRecord*float64(b.N)))
	shipRate := float64(b.N) / elapsed.Seconds()
	rawRate := float64(b.N) / rawElapsed.Seconds()
	b.ReportMetric(shipRate, "records/s")
	b.ReportMetric(rawRate, "raw-tcp-records/s")
	b.ReportMetric(bytesPerRecord*rawRate/(1<<20), "raw-tcp-MiB/s")
	b.ReportMetric(shipRate/rawRate, "ship/raw")
}

// rawLoopback times sending size bytes over a plain loopback TCP connection,
// in writes of 64 KiB through bufio, to a reader that only reads them.
func rawLoopback(b *testing.B, size int) time.Duration {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		_, err = io.CopyN(io.Discard, bufio.NewReaderSize(nc, ioBufferSize), int64(size))
		done <- err
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetNoDelay(true)
	payload := make([]byte, 64<<10)
	for i := range payload {
		payload[i] = byte(i)
	}
	start := time.Now()
	bw := bufio.NewWriterSize(nc, ioBufferSize)
	for left := size; left > 0; left -= len(payload) {
		if _, err := bw.Write(payload[:min(left, len(payload))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
