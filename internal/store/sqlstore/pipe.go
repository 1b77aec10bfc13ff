package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dissent-channel/dissent/internal/store"
)

// Pipelining, for PostgreSQL (Dialect.Pipeline).
//
// A group's members take turns on the node's one writer connection, so its
// round trips are the narrowest part of every write: under load each one
// waits for the database's backend and then for this process to be
// scheduled. Most writes need nothing back but "it worked", so a grouped
// member on PostgreSQL does not wait for them: a write made with execLater
// (and the group's BEGIN and SAVEPOINTs) is queued, and goes out with the
// member's next statement that must be answered — a read, an execOne, or
// its commit — in one round trip.
//
// A queued write that fails fails the member all the same, only later: the
// error comes back from the call that sent it, and from then on every call
// of the transaction returns it, Commit included, which undoes the member.
// Nothing a failed write was part of is committed. Only writes that just
// store are queued (store.Tx names them), whose failure ends the
// transaction in any case; a duplicate still reads as store.ErrConflict.
// Writes whose answer the caller acts on (an optimistic UPDATE, a new
// user whose name may be taken) are sent at once, with what is queued.
//
// The group's own statements without arguments (SAVEPOINT, RELEASE,
// ROLLBACK TO, COMMIT) go in PostgreSQL's simple protocol when nothing
// else goes with them: in a transaction a failed statement spoiled, it
// refuses to prepare even the ROLLBACK TO that repairs it.

// Stmt is one statement of a pipeline.
type Stmt struct {
	Query string
	Args  []any
}

// Rows is a result set: database/sql's, or one a pipeline read in full.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Pipeline sends stmts on conn, in order and in one round trip, and reads
// their results: the rows each affected, up to the first that failed (its
// index is failed, with err), and the rows of the last queries of them,
// which are queries, each read in full (the connection is not the caller's
// once Pipeline returns). A statement after a failed one does not run.
type Pipeline func(ctx context.Context, conn *sql.Conn, stmts []Stmt, queries int) (affected []int64, rows []Rows, failed int, err error)

// pipeConn is a group's connection when it is pipelined.
type pipeConn struct {
	conn     *sql.Conn
	run      Pipeline
	isUnique func(error) bool
	pending  []pending
}

// pending is a statement queued on a pipeConn.
type pending struct {
	Stmt
	miss   error // not nil: it must affect exactly one row, or fail with miss
	member bool  // a member's write, not the group's BEGIN or SAVEPOINT
}

// queue adds a statement to go out with the next one sent.
func (p *pipeConn) queue(query string, args []any, miss error, member bool) {
	p.pending = append(p.pending, pending{Stmt{query, args}, miss, member})
}

// dropWrites forgets the queued writes of a member that rolls back before
// they were sent: they never ran, so there is nothing to undo.
func (p *pipeConn) dropWrites() {
	kept := p.pending[:0]
	for _, s := range p.pending {
		if !s.member {
			kept = append(kept, s)
		}
	}
	p.pending = kept
}

// hasWrites reports whether a member's write is queued.
func (p *pipeConn) hasWrites() bool {
	for _, s := range p.pending {
		if s.member {
			return true
		}
	}
	return false
}

// send sends what is queued, then last, in one round trip, and returns
// the rows the last statement affected, or, when queries is set, the rows
// of each of last, which are then all queries. A queued write that failed
// or missed its row is the error returned: its miss error,
// store.ErrConflict for a duplicate (as Tx.exec says), or an internal
// error.
func (p *pipeConn) send(ctx context.Context, last []Stmt, queries bool) (int64, []Rows, error) {
	queued := p.pending
	p.pending = nil
	stmts := make([]Stmt, 0, len(queued)+len(last))
	for _, s := range queued {
		stmts = append(stmts, s.Stmt)
	}
	stmts = append(stmts, last...)
	if len(stmts) == 0 {
		return 0, nil, nil
	}
	nq := 0
	if queries {
		nq = len(last)
	}
	affected, rows, failed, err := p.run(context.WithoutCancel(ctx), p.conn, stmts, nq)
	switch {
	case err != nil && failed < len(queued) && p.isUnique(err):
		return 0, nil, fmt.Errorf("%w: a queued write failed: %v", store.ErrConflict, err)
	case err != nil && failed < len(queued):
		return 0, nil, fmt.Errorf("sqlstore: a queued write failed: %w", err)
	case err != nil && p.isUnique(err):
		return 0, nil, fmt.Errorf("%w: %v", store.ErrConflict, err)
	case err != nil:
		return 0, nil, fmt.Errorf("sqlstore: %w", err)
	}
	for i, s := range queued {
		if s.miss != nil && affected[i] != 1 {
			for _, r := range rows {
				_ = r.Close()
			}
			return 0, nil, s.miss
		}
	}
	var n int64
	if len(last) > 0 && !queries {
		n = affected[len(affected)-1]
	}
	return n, rows, nil
}

// exec sends what is queued and query, and waits for the answer.
func (p *pipeConn) exec(ctx context.Context, query string, args ...any) error {
	_, _, err := p.send(ctx, []Stmt{{query, args}}, false)
	return err
}

// end ends the group's transaction with COMMIT or ROLLBACK and gives the
// connection back. A transaction never begun (its BEGIN still queued) is
// simply dropped.
func (p *pipeConn) end(ctx context.Context, commit bool) error {
	defer p.conn.Close()
	if len(p.pending) > 0 && p.pending[0].Query == "BEGIN" {
		p.pending = nil
		return nil
	}
	if commit {
		return p.exec(ctx, "COMMIT")
	}
	p.dropWrites()
	return p.exec(ctx, "ROLLBACK")
}

// rowsAffected is the sql.Result of a pipelined statement.
type rowsAffected int64

func (r rowsAffected) LastInsertId() (int64, error) { return 0, errNoInsertID }
func (r rowsAffected) RowsAffected() (int64, error) { return int64(r), nil }

var errNoInsertID = fmt.Errorf("sqlstore: no LastInsertId on a pipelined statement")
