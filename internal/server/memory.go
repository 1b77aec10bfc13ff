package server

import (
	"os"
	"runtime/debug"

	"github.com/dissent-channel/dissent/internal/config"
)

// gcPercent is the collector's target for a serving process: a new cycle
// when the heap has grown by twice what the last one left live. A server's
// live heap is small (tens of MiB) and each request allocates afresh (a read
// about 100 KB), so at Go's default of 100 the collector ran some twenty
// times a second under load and took a tenth of the CPU; at 200 it runs
// half as often. The memory limit bounds what that costs in memory, with
// room for the sign-ins (argon2id) allowed at once.
const gcPercent = 200

// TuneMemory sets the collector for a server from cfg (server.
// memory_limit_mib). GOGC and GOMEMLIMIT in the environment win, as for any
// Go program.
func TuneMemory(cfg *config.Config) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && cfg.Server.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(cfg.Server.MemoryLimitMiB) << 20)
	}
}
