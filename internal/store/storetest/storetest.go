// Package storetest is the conformance suite every store runs, in the
// manner of golang.org/x/mod/sumdb/storage's TestStorage: one set of checks,
// written against the store.Store interface, that the SQLite and PostgreSQL
// stores must both pass, so that the service layer may rely on the same
// behaviour from either.
//
// It also opens throwaway real stores for other packages' tests. It never
// mocks a store: a test that needs one gets a real database.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
)

// DefaultPostgresURL is the server the PostgreSQL tests use when
// $DISSENT_TEST_POSTGRES is empty.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Run runs the whole conformance suite against stores made by open (a fresh,
// migrated, empty store per call).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, c := range append([]namedTest{
		{"Transactions", testTransactions},
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"Sessions", testSessions},
		{"Settings", testSettings},
		{"GroupKeys", testGroupKeys},
		{"Memos", testMemos},
		{"ListMemos", testListMemos},
		{"ReadAhead", testReadAhead},
		{"ReadPageAhead", testReadPageAhead},
		{"Revisions", testRevisions},
		{"Items", testItems},
		{"Publications", testPublications},
		{"Access", testAccess},
		{"Withheld", testWithheld},
		{"AuthorIndex", testAuthorIndex},
		{"Mailbox", testMailbox},
		{"Ledger", testLedger},
		{"LedgerDetails", testLedgerDetails},
		{"LeafIndex", testLeafIndex},
		{"Checkpoints", testCheckpoints},
		{"Notifications", testNotifications},
		{"MemoFacts", testMemoFacts},
		{"Blobs", testBlobs},
		{"Times", testTimes},
		{"Jobs", testJobs},
		{"Reminders", testReminders},
		{"Outbox", testOutbox},
	}, concurrencyTests...) {
		t.Run(c.name, func(t *testing.T) { c.test(t, open(t)) })
	}
	t.Run("LedgerSuite", func(t *testing.T) { testLedgerSuite(t, open) })
}

// Stores calls f in a subtest per real store ("sqlite", "postgres").
func Stores(t *testing.T, f func(t *testing.T, s store.Store)) {
	t.Run("sqlite", func(t *testing.T) { f(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, OpenPostgres(t)) })
}

// OpenSQLite returns a fresh migrated SQLite store in t.TempDir(), closed at
// cleanup.
func OpenSQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	return s
}

// namedTest is one test of the suite.
type namedTest struct {
	name string
	test func(t *testing.T, s store.Store)
}

// concurrencyTests race writers for the same rows; Run and RunNodes run them.
var concurrencyTests = []namedTest{
	{"ConcurrentAppends", testConcurrentAppends},
	{"ConcurrentMemoUpdates", testConcurrentMemoUpdates},
	{"ConcurrentNotifications", testConcurrentNotifications},
	{"ConcurrentFailures", testConcurrentFailures},
	{"ConcurrentJobClaims", testConcurrentJobClaims},
	{"ConcurrentMailClaims", testConcurrentMailClaims},
}

// RunNodes runs the concurrency tests against several app nodes of one
// database, each a store of its own: their transactions go to the nodes in
// turn, so writers on different nodes race for the same rows and the
// ledger's head, as stateless app nodes behind a load balancer do.
func RunNodes(t *testing.T, open func(t *testing.T) []store.Store) {
	for _, c := range concurrencyTests {
		t.Run(c.name, func(t *testing.T) { c.test(t, &nodes{nodes: open(t)}) })
	}
}

// nodes is a store whose transactions go to several stores in turn.
type nodes struct {
	nodes []store.Store
	next  atomic.Uint64
}

func (n *nodes) Begin(ctx context.Context, write bool) (store.Tx, error) {
	i := n.next.Add(1)
	return n.nodes[i%uint64(len(n.nodes))].Begin(ctx, write)
}

func (n *nodes) BeginIndex(ctx context.Context) (store.Tx, error) {
	i := n.next.Add(1)
	return n.nodes[i%uint64(len(n.nodes))].BeginIndex(ctx)
}

func (n *nodes) Ping(ctx context.Context) error { return n.nodes[0].Ping(ctx) }
func (n *nodes) Close() error                   { return nil } // each closes at its test's end
func (n *nodes) Dialect() string                { return n.nodes[0].Dialect() }

// OpenPostgres returns a fresh migrated PostgreSQL store in a schema of its
// own, dropped at cleanup. The server is $DISSENT_TEST_POSTGRES, or
// DefaultPostgresURL. When the server cannot be reached the test is skipped,
// unless $CI is set: a missing server in CI is a failure.
func OpenPostgres(t testing.TB) store.Store {
	t.Helper()
	return OpenPostgresNodes(t, 1)[0]
}

// PostgresAdmin returns the URL of the server the PostgreSQL tests use
// ($DISSENT_TEST_POSTGRES, or DefaultPostgresURL) and a connection to it
// for creating and dropping databases and schemas, closed after every
// cleanup registered later. An unreachable server skips the test, or,
// with $CI set, fails it: CI always has PostgreSQL.
func PostgresAdmin(t testing.TB) (base string, admin *sql.DB) {
	t.Helper()
	base = os.Getenv("DISSENT_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgresURL
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			_ = admin.Close()
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("storetest: PostgreSQL at %s is unreachable, and CI is set: %v", redact(base), err)
		}
		t.Skipf("storetest: skipping, PostgreSQL at %s is unreachable (set $DISSENT_TEST_POSTGRES, or run one): %v", redact(base), err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return base, admin
}

// PostgresSchema is a fresh, empty schema on the test server, dropped at
// cleanup.
type PostgresSchema struct {
	Name  string
	Base  string  // the server's URL
	DSN   string  // Base with search_path set to the schema
	Admin *sql.DB // a connection to Base, for what runs outside the schema
}

// NewPostgresSchema creates a schema of its own for a test, on the server
// PostgresAdmin finds (skipping or failing the test as it does).
func NewPostgresSchema(t testing.TB, prefix string) *PostgresSchema {
	t.Helper()
	base, admin := PostgresAdmin(t)
	// Cleanups run after t.Context is cancelled, so they get their own.
	ctx := context.WithoutCancel(t.Context())
	name := prefix + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("storetest: drop schema %s: %v", name, err)
		}
	})
	dsn, err := withSearchPath(base, name)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return &PostgresSchema{Name: name, Base: base, DSN: dsn, Admin: admin}
}

// OpenPostgresNodes is OpenPostgres for n app nodes: n stores, each with
// its own connections, on one schema.
func OpenPostgresNodes(t testing.TB, n int) []store.Store {
	t.Helper()
	sc := NewPostgresSchema(t, "dissent_test_")
	ctx := context.WithoutCancel(t.Context())
	// Enough connections for the concurrency tests' eight writers, and few
	// enough that parallel test binaries stay under max_connections.
	var out []store.Store
	for range n {
		s, err := postgres.Open(ctx, sc.DSN, postgres.Options{Migrate: len(out) == 0, MaxConns: 10})
		if err != nil {
			t.Fatalf("storetest: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("storetest: close: %v", err)
			}
		})
		out = append(out, s)
	}

	// If the driver ignored search_path, the migrations went to some other
	// schema and tests would share (and corrupt) one set of tables.
	var tables int
	if err := sc.Admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('schema_migrations', 'ledger_head')`, sc.Name).Scan(&tables); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if tables != 2 {
		t.Fatalf("storetest: the migrations did not land in schema %s: search_path was not applied", sc.Name)
	}
	return out
}

// withSearchPath adds search_path to a postgres:// URL or a keyword/value
// connection string; pgx sends it to the server as a runtime parameter.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse $DISSENT_TEST_POSTGRES: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redact hides a password in a URL for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

// write runs f in a write transaction and commits it.
func write(t testing.TB, s store.Store, f func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
		f(ctx, tx)
		if err := tx.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	})
}

// writeIndex is write for a transaction that writes the author index
// (store.Store.BeginIndex).
func writeIndex(t testing.TB, s store.Store, f func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	inIndexTx(t, s, func(ctx context.Context, tx store.Tx) {
		f(ctx, tx)
		if err := tx.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	})
}

// read runs f in a read transaction.
func read(t testing.TB, s store.Store, f func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	inTx(t, s, false, f)
}

// inTx runs f in a transaction that is rolled back unless f commits it.
func inTx(t testing.TB, s store.Store, writable bool, f func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	tx, err := s.Begin(t.Context(), writable)
	if err != nil {
		t.Fatalf("Begin(write=%v): %v", writable, err)
	}
	rollingBack(t, tx, f)
}

// inIndexTx is inTx for a transaction begun by BeginIndex.
func inIndexTx(t testing.TB, s store.Store, f func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	tx, err := s.BeginIndex(t.Context())
	if err != nil {
		t.Fatalf("BeginIndex: %v", err)
	}
	rollingBack(t, tx, f)
}

func rollingBack(t testing.TB, tx store.Tx, f func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	defer func() {
		if err := tx.Rollback(); err != nil {
			t.Errorf("Rollback: %v", err)
		}
	}()
	f(t.Context(), tx)
}

// wantErr runs f in a write transaction that is then rolled back, and checks
// that f fails with want, or, for a write that may report late (store.Tx),
// that Commit does. On PostgreSQL a failed statement spoils the
// transaction, so each expected failure gets its own.
func wantErr(t testing.TB, s store.Store, want error, f func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
		t.Helper()
		if err := failsByCommit(tx, f(ctx, tx)); !errors.Is(err, want) {
			t.Errorf("got error %v, want %v", err, want)
		}
	})
}

// failsByCommit returns err, or if it is nil what Commit returns: a write
// may report its failure as late as Commit (store.Tx).
func failsByCommit(tx store.Tx, err error) error {
	if err != nil {
		return err
	}
	return tx.Commit()
}

// check fails the test at once if err is not nil.
func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
