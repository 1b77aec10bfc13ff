// Package sqlstore is the SQL both real stores share: SQLite and PostgreSQL
// speak the same queries here, and differ only in what their Dialect says
// (placeholders, how a write transaction starts, which error is a duplicate).
//
// It holds no rules about who may see what; it reads and writes records.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
)

// Dialect is what differs between the databases.
type Dialect struct {
	Name string
	// Numbered placeholders ($1, $2…) instead of '?'.
	Numbered bool
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique func(error) bool
	// LockHead is the statement that reads the ledger size and holds the
	// append lock for the rest of the transaction.
	LockHead string
	// GroupCommit shares one database commit among the write transactions
	// that queue for this node's writer connection (see group.go).
	GroupCommit bool
	// SingleWriter: the database itself admits one writer at a time (SQLite),
	// so no two nodes write at once and row locks are not needed.
	SingleWriter bool
	// CacheStatements keeps prepared statements (see stmts.go).
	CacheStatements bool
	// ReadsOutsideTx runs a read transaction's statements on a connection
	// of its own, without BEGIN and COMMIT. At PostgreSQL's READ COMMITTED
	// every statement takes its own snapshot inside a transaction or out of
	// one, so there a read transaction would add two round trips and
	// nothing else. (SQLite's read transactions do hold one snapshot.)
	ReadsOutsideTx bool
	// WritingCTEs: a WITH clause may hold INSERTs and UPDATEs (PostgreSQL),
	// so writes that go together can share a statement and a round trip.
	WritingCTEs bool
	// NestSavepoints: a grouped member that commits leaves its savepoint
	// open instead of releasing it, and the next member's nests inside it
	// (PostgreSQL). A member rolling back still undoes its own writes only,
	// and the round trip of a RELEASE per member, on the connection every
	// write of the node takes turns on, is saved. SQLite releases: there an
	// open savepoint journals every page first changed under it.
	NestSavepoints bool
	// Pipeline, if set, sends a grouped member's statements without
	// waiting for the writes among them (pipe.go).
	Pipeline Pipeline
	// ReadBatch, if set, lets a read transaction send the reads of opening
	// a memo at once (ahead.go).
	ReadBatch ReadBatch
	// MigrateLock and MigrateUnlock, if set, hold a lock on the database
	// while Migrate runs, so that app nodes started together migrate one
	// after another instead of racing to create the same tables.
	MigrateLock, MigrateUnlock string
}

// DB is a store over database/sql. SQLite gives it a separate one-connection
// pool for writes, so that writers queue in Go rather than fail busy.
type DB struct {
	read, write *sql.DB
	d           Dialect
	mu          sync.Mutex
	queries     map[string]string
	group       *committer // with Dialect.GroupCommit
	// Prepared statements of each pool, with Dialect.CacheStatements.
	readStmts, writeStmts *stmtCache
}

// New returns a store over the given pools (read and write may be the same).
func New(read, write *sql.DB, d Dialect) *DB {
	db := &DB{read: read, write: write, d: d, queries: map[string]string{}}
	if d.GroupCommit {
		db.group = newCommitter(write)
		db.group.nest = d.NestSavepoints
		db.group.pipe, db.group.isUnique = d.Pipeline, d.IsUnique
	}
	if d.CacheStatements {
		db.readStmts, db.writeStmts = newStmtCache(read), newStmtCache(write)
	}
	return db
}

// Dialect names the database.
func (db *DB) Dialect() string { return db.d.Name }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.readStmts != nil {
		db.readStmts.close()
		db.writeStmts.close()
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Begin starts a transaction; see store.Store.
func (db *DB) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if write && db.group != nil {
		return db.beginGrouped(ctx, false)
	}
	if !write && db.d.ReadsOutsideTx {
		conn, err := db.read.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: begin: %w", err)
		}
		return &Tx{db: db, conn: conn}, nil
	}
	pool, stmts := db.read, db.readStmts
	if write {
		pool, stmts = db.write, db.writeStmts
	}
	// The wait for a connection ends with ctx; the transaction, once begun,
	// does not watch it (see stmtCtx).
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	return &Tx{db: db, tx: tx, txConn: conn, stmts: stmts}, nil
}

// BeginIndex implements store.Store: the transaction has a group commit
// of its own.
func (db *DB) BeginIndex(ctx context.Context) (store.Tx, error) {
	if db.group == nil {
		tx, err := db.Begin(ctx, true) // every commit is its own
		if err == nil {
			tx.(*Tx).index = true
		}
		return tx, err
	}
	return db.beginGrouped(ctx, true)
}

func (db *DB) beginGrouped(ctx context.Context, alone bool) (store.Tx, error) {
	m, err := db.group.begin(ctx, alone)
	if err != nil {
		return nil, err
	}
	return &Tx{db: db, m: m, stmts: db.writeStmts, index: alone}, nil
}

// Rebind writes a query's '?' placeholders as this database's dialect
// wants them, for SQL of one's own run on Raw (tests, tools), as the store
// does its own.
func (db *DB) Rebind(query string) string { return db.q(query) }

// q rewrites '?' placeholders for dialects that number them; rewritten
// queries are cached since the same few dozen run all day.
func (db *DB) q(query string) string {
	if !db.d.Numbered {
		return query
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if r, ok := db.queries[query]; ok {
		return r
	}
	r := db.d.Rebind(query)
	db.queries[query] = r
	return r
}

// Rebind writes a query's '?' placeholders as the dialect wants them:
// numbered ($1, $2, ...) or as they are.
func (d Dialect) Rebind(query string) string {
	if !d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Migrated is told of each migration applied, and how long it took.
type Migrated func(name string, took time.Duration)

// Migrate applies the numbered migrations in fsys (files named
// NNNN_name.sql) that the database lacks, each in its own transaction,
// telling done (if not nil) of each. It refuses a database whose schema is
// newer than this binary knows.
func Migrate(ctx context.Context, pool *sql.DB, d Dialect, fsys fs.FS, done Migrated) (applied int, err error) {
	// One connection throughout, which holds the migration lock.
	db, err := pool.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer db.Close()
	if d.MigrateLock != "" {
		if _, err := db.ExecContext(ctx, d.MigrateLock); err != nil {
			return 0, fmt.Errorf("sqlstore: migrate: wait for other nodes' migrations: %w", err)
		}
		defer func() { _, _ = db.ExecContext(context.WithoutCancel(ctx), d.MigrateUnlock) }()
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	sort.Strings(names)
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if current > len(names) {
		return 0, fmt.Errorf("sqlstore: the database schema is version %d, newer than this binary knows (%d): upgrade dissent", current, len(names))
	}
	for i, name := range names {
		version := i + 1
		if !strings.HasPrefix(name, fmt.Sprintf("%04d_", version)) {
			return applied, fmt.Errorf("sqlstore: migration %q is out of sequence", name)
		}
		if version <= current {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return applied, err
		}
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return applied, err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return applied, fmt.Errorf("sqlstore: migration %q: %w", name, err)
		}
		ins := `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`
		if d.Numbered {
			ins = `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`
		}
		if _, err := tx.ExecContext(ctx, ins, version, time.Now().UnixMicro()); err != nil {
			_ = tx.Rollback()
			return applied, fmt.Errorf("sqlstore: migration %q: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("sqlstore: migration %q: %w", name, err)
		}
		applied++
		if done != nil {
			done(name, time.Since(start))
		}
	}
	return applied, nil
}

// SchemaVersion returns the highest applied migration.
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Tx is a transaction: a database transaction of its own, or a member of a
// group (see group.go).
type Tx struct {
	db     *DB
	tx     *sql.Tx
	conn   *sql.Conn // instead of tx, for a read with Dialect.ReadsOutsideTx
	txConn *sql.Conn // the connection tx holds, given back when it ends
	m      *member
	stmts  *stmtCache
	done   bool
	ledger *ledgerSeen // what this transaction learned of the ledger
	// broken: a pipelined statement failed; every later call returns it
	// and Commit rolls back (pipe.go).
	broken error
	ahead  map[string]Rows // rows read ahead, by statement and arguments (ahead.go)
	index  bool            // begun by BeginIndex: it may write the author index
}

// runner is what statements run on: a database transaction, or a
// connection (Dialect.ReadsOutsideTx).
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Commit commits.
func (t *Tx) Commit() error {
	if t.broken != nil {
		_ = t.Rollback()
		return t.broken
	}
	t.done = true
	if t.m != nil {
		return t.m.finish(true, t.ledger)
	}
	if t.conn != nil {
		return t.conn.Close()
	}
	defer t.txConn.Close()
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// Rollback rolls back; after Commit it does nothing.
func (t *Tx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	if t.m != nil {
		return t.m.finish(false, nil)
	}
	if t.conn != nil {
		return t.conn.Close()
	}
	defer t.txConn.Close()
	return t.tx.Rollback()
}

// run returns what statements run on.
func (t *Tx) run() runner {
	switch {
	case t.m != nil:
		return t.m.g.tx
	case t.conn != nil:
		return t.conn
	}
	return t.tx
}

// stmtCtx is the context a statement runs with. A statement that has
// started is not interrupted when its request's context ends; a context that
// has ended already stops it before it starts. In a group, SQLite would roll
// the whole transaction back on an interrupted write and fail the other
// members. Elsewhere the statements are short and bounded, and a context
// that can end costs each one a watching goroutine in database/sql and
// another in the SQLite driver: a read's dozen statements spent about 5% of
// its CPU starting and ending them.
func (t *Tx) stmtCtx(ctx context.Context) context.Context {
	if ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.conn != nil {
		// Outside a transaction it would commit at once: refuse it, as
		// SQLite's query-only read connections do.
		return nil, errors.New("sqlstore: a write in a read transaction")
	}
	query, args = t.db.q(query), notNullBlobs(args)
	if err := t.beforeWrite(ctx, query); err != nil {
		return nil, err
	}
	if pc := t.pipe(); pc != nil {
		n, _, err := pc.send(ctx, []Stmt{{query, args}}, false)
		if err != nil {
			t.breaks(err)
			return nil, err
		}
		return rowsAffected(n), nil
	}
	var r sql.Result
	var err error
	if st := t.prepared(ctx, query); st != nil {
		r, err = st.ExecContext(t.stmtCtx(ctx), args...)
	} else {
		r, err = t.run().ExecContext(t.stmtCtx(ctx), query, args...)
	}
	if err != nil {
		t.failed()
		if t.db.d.IsUnique(err) {
			return nil, fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return r, nil
}

// beforeWrite is what a transaction checks before each write.
func (t *Tx) beforeWrite(ctx context.Context, query string) error {
	t.ahead = nil // what was read ahead is from before this write
	if t.broken != nil {
		return t.broken
	}
	if writesIndex(query) && !t.index {
		return errors.New("sqlstore: a write to the author index in a transaction not begun by BeginIndex")
	}
	if t.m == nil {
		return nil
	}
	return ctx.Err()
}

// execLater is exec (with miss: execOne) for a statement whose only answer
// is that it worked — a write that just stores, or a row lock: pipelined,
// it is queued to go out with the next statement that must be answered,
// and its failure reported from there (pipe.go).
func (t *Tx) execLater(ctx context.Context, miss error, query string, args ...any) error {
	if t.pipe() == nil {
		if miss != nil {
			return t.execOne(ctx, miss, query, args...)
		}
		_, err := t.exec(ctx, query, args...)
		return err
	}
	query, args = t.db.q(query), notNullBlobs(args)
	if err := t.beforeWrite(ctx, query); err != nil {
		return err
	}
	t.pipe().queue(query, args, miss, true)
	return nil
}

// pipe returns the connection a pipelined member's statements go on, or nil.
func (t *Tx) pipe() *pipeConn {
	if t.m == nil {
		return nil
	}
	return t.m.g.pc
}

// breaks notes that a pipelined statement failed.
func (t *Tx) breaks(err error) {
	t.failed()
	t.broken = err
}

func (t *Tx) query(ctx context.Context, query string, args ...any) (Rows, error) {
	if rows, ok := t.takeAhead(query, args); ok {
		return rows, nil
	}
	query, args = t.db.q(query), notNullBlobs(args)
	if pc := t.pipe(); pc != nil {
		if t.broken != nil {
			return nil, t.broken
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, rows, err := pc.send(ctx, []Stmt{{query, args}}, true)
		if err != nil {
			t.breaks(err)
			return nil, err
		}
		return rows[0], nil
	}
	var r *sql.Rows
	var err error
	if st := t.prepared(ctx, query); st != nil {
		r, err = st.QueryContext(t.stmtCtx(ctx), args...)
	} else {
		r, err = t.run().QueryContext(t.stmtCtx(ctx), query, args...)
	}
	if err != nil {
		t.failed()
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return r, nil
}

func (t *Tx) row(ctx context.Context, query string, args ...any) trackedRow {
	if rows, ok := t.takeAhead(query, args); ok {
		return trackedRow{rows: rows, t: t}
	}
	if t.pipe() != nil {
		rows, err := t.query(ctx, query, args...)
		return trackedRow{rows: rows, err: err, t: t}
	}
	query, args = t.db.q(query), notNullBlobs(args)
	if st := t.prepared(ctx, query); st != nil {
		return trackedRow{r: st.QueryRowContext(t.stmtCtx(ctx), args...), t: t}
	}
	return trackedRow{r: t.run().QueryRowContext(t.stmtCtx(ctx), query, args...), t: t}
}

// trackedRow is a *sql.Row, or the first of pipelined rows, that tells its
// transaction when it failed.
type trackedRow struct {
	r    *sql.Row
	rows Rows // pipelined, or err
	err  error
	t    *Tx
}

func (r trackedRow) Scan(dest ...any) error {
	if r.r == nil {
		if r.err != nil {
			return r.err
		}
		return scanFirst(r.rows, dest)
	}
	err := r.r.Scan(dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		r.t.failed()
	}
	return err
}

// scanFirst scans the first of rows, as sql.Row.Scan does.
func scanFirst(rows Rows, dest []any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return rows.Scan(dest...)
}

// failed notes that a statement of a grouped member failed: PostgreSQL
// then refuses every statement until its savepoint is rolled back, so the
// member must not leave it open for the next one (Dialect.NestSavepoints).
// Errors while iterating rows are not seen here; an open savepoint left
// failed makes the next member's SAVEPOINT, or the group's COMMIT, fail,
// and every member of the group with it, none acknowledged.
func (t *Tx) failed() {
	if t.m != nil {
		t.m.failed = true
	}
}

// notNullBlobs turns nil []byte arguments into empty ones: to a store nil
// and empty are the same blob. Drivers bind a nil []byte as NULL, and the
// SQLite driver reads an empty blob back as nil, so without this a record
// holding an empty blob could not be written back after being read, nor
// found by it. Columns that may be NULL are passed an untyped nil.
func notNullBlobs(args []any) []any {
	var out []any
	for i, a := range args {
		if b, ok := a.([]byte); ok && b == nil {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = []byte{}
		}
	}
	if out == nil {
		return args
	}
	return out
}

// nullBlob passes nil as SQL NULL, for the few blob columns that may be NULL.
func nullBlob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// execOne runs an UPDATE or DELETE that must touch exactly one row; none
// means ErrNotFound (or a stale optimistic version, which the caller knows).
func (t *Tx) execOne(ctx context.Context, miss error, query string, args ...any) error {
	r, err := t.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if n != 1 {
		return miss
	}
	return nil
}

func scanErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// valueRows returns the VALUES list of a multi-row INSERT: n rows of width
// placeholders each, "(?, ?), (?, ?)". Its text depends only on n and width,
// so a few shapes of each insert stay prepared.
func valueRows(n, width int) string {
	row := "(" + strings.Repeat(", ?", width)[2:] + ")"
	return strings.Repeat(", "+row, n)[2:]
}

// placeholders returns "?, ?, ?" for n values.
// inBatch bounds the values of one IN list (SQLite allows 32,766
// parameters, PostgreSQL 65,535).
const inBatch = 500

// inBatches calls f with xs in slices of at most inBatch.
func inBatches[T any](xs []T, f func([]T) error) error {
	for len(xs) > 0 {
		n := min(len(xs), inBatch)
		if err := f(xs[:n]); err != nil {
			return err
		}
		xs = xs[n:]
	}
	return nil
}

// inSizes are the lengths IN lists are padded to, by repeating their last
// value (which changes no result), so that a query comes in a few shapes
// that stay prepared instead of one shape per length.
var inSizes = []int{1, 2, 4, 8, 16, 32, 64, 128, 256, inBatch}

// padded returns the length a list of n is padded to.
func padded(n int) int {
	for _, s := range inSizes {
		if s >= n {
			return s
		}
	}
	return n
}

// inList returns the placeholders and arguments of an IN list of xs (not
// empty), padded to one of inSizes.
func inList[T any](xs []T) (string, []any) {
	args := make([]any, padded(len(xs)))
	for i := range args {
		args[i] = xs[min(i, len(xs)-1)]
	}
	return placeholders(len(args)), args
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// collect scans every row with scan and closes rows.
func collect[T any](rows Rows, scan func(Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return out, nil
}

// CheckSchema fails unless the database has exactly the migrations in fsys:
// a server never runs against a schema older or newer than its code.
func CheckSchema(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	v, err := SchemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("sqlstore: the database has no schema yet: run `dissent migrate` (%w)", err)
	}
	switch {
	case v > len(names):
		return fmt.Errorf("sqlstore: the database schema is version %d, newer than this binary knows (%d): use the release that wrote it, or a later one", v, len(names))
	case v < len(names):
		return fmt.Errorf("sqlstore: the database schema is version %d and this binary needs %d: run `dissent migrate`", v, len(names))
	}
	return nil
}

// Raw returns the database handle that writes. It exists for tests that
// must go around the store, as an attacker with database access would.
func (db *DB) Raw() *sql.DB { return db.write }
