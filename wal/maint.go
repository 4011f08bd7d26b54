package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// runGC reclaims value-log space every interval, and soon after a truncation
// asks for it (kickGC), until Close.
func (l *Log) runGC(interval time.Duration) {
	defer close(l.gcDone)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-l.gcStop:
			return
		case <-ticker.C:
		case <-l.gcKick:
		}
		l.collectValueLog()
	}
}

// maxGCRewritesPerRound bounds one round so Close never waits long for it.
const maxGCRewritesPerRound = 8

func (l *Log) collectValueLog() {
	for range maxGCRewritesPerRound {
		select {
		case <-l.gcStop:
			return
		default:
		}
		err := l.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue // a file was rewritten; another may qualify
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return
		default:
			l.logger.Warn("wal: value-log GC failed", "dir", l.dir, "err", err)
			return
		}
	}
}

// kickGC asks the GC goroutine for a round without waiting for it.
func (l *Log) kickGC() {
	select {
	case l.gcKick <- struct{}{}:
	default:
	}
}

// Size returns the disk space the log uses: lsm covers Badger's tables and
// memtable logs, vlog its value-log files. Files are counted by the blocks
// they occupy where the platform says so, since Badger preallocates sparse
// files.
func (l *Log) Size() (lsm, vlog int64) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		l.logger.Warn("wal: measuring the log's size", "dir", l.dir, "err", err)
		return 0, 0
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile (compaction)
		}
		switch filepath.Ext(e.Name()) {
		case ".sst", ".mem":
			lsm += diskUsage(info)
		case ".vlog":
			vlog += diskUsage(info)
		}
	}
	return lsm, vlog
}

// badgerLogger routes Badger's warnings and errors to slog and drops its
// info and debug chatter.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(format string, args ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (b badgerLogger) Warningf(format string, args ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
