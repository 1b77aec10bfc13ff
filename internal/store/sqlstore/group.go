package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Group commit, for a database with a single writer (SQLite).
//
// Every write transaction must be durable when its Commit returns, and on
// SQLite that is an fsync of the WAL per commit; with one writer, each
// writer also holds the lock through its fsync. Group commit lets the write
// transactions that queue behind one another share a database transaction
// and its fsync: each runs, one at a time as before, inside a SAVEPOINT of
// the group's transaction; when it commits, its savepoint is released and,
// if another writer is waiting, the connection passes to it; the last one
// (when nobody waits, or the group is full) commits the whole group. Every
// member's Commit returns only after that commit, with its error: nothing is
// acknowledged before it is durable, and a group that fails fails all its
// members, none of which was acknowledged. A member that rolls back undoes
// its savepoint only.
//
// Members run one after another and each sees its predecessors' writes, so
// the outcome is the same as committing them one by one; only the fsyncs are
// shared. Readers see a group's writes when it commits.
//
// One thing grouping must not do is put, into one database transaction, an
// author-index write and another writer's rows: rows written together can
// be grouped by whoever holds the database files (WAL frames, PostgreSQL's
// xmin), and the threat model promises that no transaction ties an
// author-index tag to an account that way. A transaction that writes the
// index says so when it begins (store.Store.BeginIndex): it closes the
// open group, if any, and has a group of its own that no one joins. Any
// other transaction's write to the index fails.

// maxGroup bounds how many transactions one commit carries.
const maxGroup = 64

// writesIndex reports whether a write statement writes the author index.
func writesIndex(query string) bool {
	q := strings.TrimSpace(query)
	return strings.HasPrefix(q, "INSERT INTO author_index ") || strings.HasPrefix(q, "UPDATE author_index ") || strings.HasPrefix(q, "DELETE FROM author_index ")
}

// committer hands the one write connection to write transactions in turn
// and groups their commits.
type committer struct {
	db   *sql.DB
	turn chan struct{} // holding its one token is owning the write connection
	// pipe: the group's statements are pipelined (pipe.go).
	pipe     Pipeline
	isUnique func(error) bool

	mu      sync.Mutex
	waiting int    // writers waiting for the turn
	cur     *group // the open group, if any

	// nest leaves a committed member's savepoint open, the next member's
	// nested in it (Dialect.NestSavepoints).
	nest bool

	commits, syncs atomic.Int64
	onCommit       func(*group) // tests only
}

func newCommitter(db *sql.DB) *committer {
	return &committer{db: db, turn: make(chan struct{}, 1)}
}

// group is one database transaction shared by several write transactions.
type group struct {
	tx       *sql.Tx     // its transaction; or, pipelined:
	pc       *pipeConn   // its connection
	ledger   *ledgerSeen // what its committed members learned of the ledger (ledger.go)
	members  int         // write transactions committed into it
	alone    bool        // its one member may write the author index; nobody joins
	next     int         // savepoint names
	done     chan struct{}
	err      error // the group's commit error, once done is closed
	finished bool
}

// member is one write transaction's place in a group.
type member struct {
	c  *committer
	g  *group
	sp string // its savepoint
	// failed: one of its statements failed (Tx.failed).
	failed bool
}

// begin waits for the turn and joins the open group, or starts one. A
// member alone commits the open group and starts one of its own.
func (c *committer) begin(ctx context.Context, alone bool) (*member, error) {
	c.mu.Lock()
	c.waiting++
	c.mu.Unlock()
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
		c.abandoned()
		return nil, ctx.Err()
	}
	c.mu.Lock()
	c.waiting--
	g := c.cur
	if alone {
		c.cur = nil
	}
	c.mu.Unlock()
	if alone && g != nil {
		c.commitGroup(g)
		g = nil
	}
	m := &member{c: c, g: g}
	if g == nil {
		if err := m.newGroup(alone); err != nil {
			<-c.turn
			return nil, err
		}
	}
	if err := m.savepoint(); err != nil {
		m.breakGroup(err)
		<-c.turn
		return nil, err
	}
	return m, nil
}

// abandoned runs when a writer stops waiting: if the turn is free, a group
// is open and nobody else waits, the group's members would wait forever, so
// it commits the group itself.
//
// When others wait, it gives the turn back while it still holds c.mu, by
// which a waiter that gives up counts itself out: that waiter then finds
// the turn free in its own call, and commits the group if it was the last.
// Given back after c.mu, the turn could still be held when such a waiter
// looked, and the group be left to wait for a writer that may not come.
func (c *committer) abandoned() {
	select {
	case c.turn <- struct{}{}:
	default:
		return // someone holds the turn, and will pass it on or commit
	}
	c.mu.Lock()
	g := c.cur
	if g == nil || c.waiting > 0 {
		<-c.turn
		c.mu.Unlock()
		return
	}
	c.cur = nil
	c.mu.Unlock()
	c.commitGroup(g)
	<-c.turn
}

// newGroup begins a group for the member; it is the open group unless it
// is alone.
func (m *member) newGroup(alone bool) error {
	// The group outlives the request that opened it, so it is not bound to
	// that request's context.
	g := &group{done: make(chan struct{}), ledger: newLedgerSeen(), alone: alone}
	if m.c.pipe != nil {
		conn, err := m.c.db.Conn(context.Background())
		if err != nil {
			return fmt.Errorf("sqlstore: begin: %w", err)
		}
		g.pc = &pipeConn{conn: conn, run: m.c.pipe, isUnique: m.c.isUnique}
		g.pc.queue("BEGIN", nil, nil, false)
	} else {
		tx, err := m.c.db.BeginTx(context.Background(), nil)
		if err != nil {
			return fmt.Errorf("sqlstore: begin: %w", err)
		}
		g.tx = tx
	}
	m.g = g
	if !alone {
		m.c.mu.Lock()
		m.c.cur = g
		m.c.mu.Unlock()
	}
	return nil
}

func (m *member) savepoint() error {
	m.g.next++
	m.sp = "w" + strconv.Itoa(m.g.next)
	if m.g.pc != nil {
		m.g.pc.queue("SAVEPOINT "+m.sp, nil, nil, false)
		return nil
	}
	return m.g.exec("SAVEPOINT " + m.sp)
}

// exec runs one of the group's own statements, on its transaction.
func (g *group) exec(query string, args ...any) error {
	if g.pc != nil {
		return g.pc.exec(context.Background(), query, args...)
	}
	_, err := g.tx.ExecContext(context.Background(), query, args...)
	return err
}

// end commits or rolls back the group's transaction.
func (g *group) end(commit bool) error {
	switch {
	case g.pc != nil:
		return g.pc.end(context.Background(), commit)
	case commit:
		return g.tx.Commit()
	}
	return g.tx.Rollback()
}

// undo rolls the member's savepoint back and removes it.
func (m *member) undo() error {
	if pc := m.g.pc; pc != nil {
		pc.dropWrites()
		pc.queue("ROLLBACK TO "+m.sp, nil, nil, false)
		return pc.exec(context.Background(), "RELEASE "+m.sp)
	}
	if err := m.g.exec("ROLLBACK TO " + m.sp); err != nil {
		return err
	}
	return m.g.exec("RELEASE " + m.sp)
}

// breakGroup ends a group whose transaction can no longer be trusted (a
// savepoint that cannot be rolled back means SQLite rolled the whole
// transaction back): every member committed into it fails.
func (m *member) breakGroup(cause error) {
	g := m.g
	m.c.mu.Lock()
	if m.c.cur == g {
		m.c.cur = nil
	}
	m.c.mu.Unlock()
	if !g.finished {
		g.finished = true
		_ = g.end(false)
		g.err = fmt.Errorf("sqlstore: the grouped transaction failed: %w", cause)
		close(g.done)
	}
}

// finish ends the member: commit releases its savepoint, rollback undoes
// it. Then the connection passes to a waiting writer, or the group commits.
// A committed member waits for its group's commit and returns its error.
// What a committed member learned of the ledger (seen, may be nil) is the
// group's for its next members; a member undone leaves nothing behind.
func (m *member) finish(commit bool, seen *ledgerSeen) error {
	g := m.g
	var err error
	if commit {
		switch {
		case !m.c.nest || m.failed:
			err = g.exec("RELEASE " + m.sp)
		case g.pc != nil && g.pc.hasWrites():
			// The member's queued writes go now: it is not committed
			// into the group before they are known to have worked.
			_, _, err = g.pc.send(context.Background(), nil, false)
		}
		if err == nil {
			g.members++
			if seen != nil {
				g.ledger.merge(seen)
			}
		}
	}
	if !commit || err != nil {
		if uerr := m.undo(); uerr != nil {
			m.breakGroup(errors.Join(err, uerr))
			<-m.c.turn
			if commit {
				return g.err
			}
			return nil
		}
	}
	m.c.mu.Lock()
	pass := m.c.waiting > 0 && g.members < maxGroup && !g.finished && !g.alone
	if !pass && m.c.cur == g {
		m.c.cur = nil
	}
	m.c.mu.Unlock()
	if pass {
		<-m.c.turn      // the next writer continues this group...
		m.c.abandoned() // ...unless it stopped waiting meanwhile
	} else {
		m.c.commitGroup(g)
		<-m.c.turn
	}
	if !commit || err != nil {
		if err != nil {
			return fmt.Errorf("sqlstore: commit: %w", err)
		}
		return nil
	}
	<-g.done
	return g.err
}

// commitGroup commits (or, with no member, rolls back) a group while its
// caller holds the turn, and wakes its members.
func (c *committer) commitGroup(g *group) {
	if g.finished {
		return
	}
	g.finished = true
	if g.members == 0 {
		_ = g.end(false)
	} else {
		if err := g.end(true); err != nil {
			g.err = fmt.Errorf("sqlstore: commit: %w", err)
		} else {
			c.commits.Add(int64(g.members))
			c.syncs.Add(1)
			if c.onCommit != nil {
				c.onCommit(g)
			}
		}
	}
	close(g.done)
}

// CommitStats reports how many write transactions were committed, and in
// how many database commits (each one fsync): with group commit the first
// exceeds the second. Without it, it reports false.
func (db *DB) CommitStats() (commits, syncs int64, ok bool) {
	if db.group == nil {
		return 0, 0, false
	}
	return db.group.commits.Load(), db.group.syncs.Load(), true
}
