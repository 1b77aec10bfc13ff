package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"
)

// stmtCache keeps one pool's prepared statements by query text, so that
// the same few dozen queries are parsed and planned once per connection
// rather than on every call: with SQLite, parsing was about a sixth of the
// CPU of a read. (PostgreSQL's driver caches its statements itself.)
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

// maxStmts bounds the cache: a prepared statement holds memory on every
// connection that ran it. IN lists come padded to a few lengths (inList),
// so each query has a few shapes; maxParams keeps out the longest of them,
// rarely run.
const (
	maxStmts  = 256
	maxParams = 2*128 + 8
)

// prepareWait is how long preparing may wait for a free connection. A
// statement is prepared once through the pool (later, lazily, on each
// connection that runs it); when every connection is busy, the caller,
// which holds one, runs its query unprepared rather than wait.
const prepareWait = 5 * time.Millisecond

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement of query, or nil.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.Unlock()
	if ok || full || strings.Count(query, "?") > maxParams {
		return st
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prepareWait)
	defer cancel()
	st, err := c.pool.PrepareContext(pctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		_ = st.Close()
		return old
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}

// prepared returns query prepared for the transaction, or nil to run it as
// it is.
func (t *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	st := t.stmts.get(ctx, query)
	if st == nil {
		return nil
	}
	if t.m != nil {
		return t.m.g.tx.StmtContext(ctx, st)
	}
	return t.tx.StmtContext(ctx, st)
}
