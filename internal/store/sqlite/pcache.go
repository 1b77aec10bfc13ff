package sqlite

import (
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// pagesPerCache is how many page buffers each connection's page cache
// allocates in one block when it first needs one, and keeps for reuse.
//
// In WAL mode a connection empties its whole page cache when it begins a
// transaction after another connection's commit, and every read here is
// followed by a commit (its event in the ledger). With SQLite's default of
// 20, the other pages a read transaction loads are allocated one by one
// and freed again at the next reset, through the C library's allocator,
// which returns memory to the system as it goes: about a tenth of a read's
// CPU (pcache1AllocPage, pcache1Truncate, madvise) under the read load.
// From its block a cache takes and returns pages on a free list. 128
// pages (~550 KB a cache, all of it resident once the cache is first used,
// since SQLite writes a header into every page of the block) led 20 under
// the read load in docs/BENCHMARKS.md; 64 and 256 did not differ from it
// beyond the noise. SQLite's temporary b-trees (an IN list, a sort) take
// a block too, about 1% of a submission's CPU.
const pagesPerCache = 128

// init sets the size before SQLite initialises, which it does when the
// first connection opens; nothing opens one during package initialisation.
// A failure would leave SQLite's default, which is slower and not wrong,
// so it is not an error.
func init() {
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.Xmalloc(tls, 3*8) // one 8-byte slot per argument
	if args == 0 {
		return
	}
	defer libc.Xfree(tls, args)
	// SQLITE_CONFIG_PAGECACHE(pMem, sz, N) with no memory of our own:
	// each cache allocates its N pages itself.
	sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, libc.VaList(args, uintptr(0), int32(0), int32(pagesPerCache)))
}
