package server

import (
	"runtime/debug"
	"testing"

	"github.com/dissent-channel/dissent/internal/config"
)

// TestTuneMemory checks the collector settings a server runs with, and that
// GOGC and GOMEMLIMIT in the environment win.
func TestTuneMemory(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	reset := func() { debug.SetGCPercent(100); debug.SetMemoryLimit(1 << 62) }
	cfg := &config.Config{}
	cfg.Server.MemoryLimitMiB = 432

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	reset()
	TuneMemory(cfg)
	if p, l := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); p != gcPercent || l != 432<<20 {
		t.Errorf("GC percent %d, limit %d; want %d and %d", p, l, gcPercent, 432<<20)
	}

	cfg.Server.MemoryLimitMiB = -1
	reset()
	TuneMemory(cfg)
	if l := debug.SetMemoryLimit(-1); l != 1<<62 {
		t.Errorf("with memory_limit_mib = -1 the limit is %d, want none set", l)
	}

	cfg.Server.MemoryLimitMiB = 432
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	reset()
	TuneMemory(cfg)
	if p, l := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); p != 100 || l != 1<<62 {
		t.Errorf("with GOGC and GOMEMLIMIT set: GC percent %d, limit %d; want them left alone", p, l)
	}
}
