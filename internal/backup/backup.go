// Package backup takes consistent online snapshots of an embedded
// deployment, restores them into an empty data folder, and moves an
// embedded deployment to PostgreSQL. Every restore and move is verified
// against the ledger's signed checkpoint before it is declared done.
package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

// Files copied beside the database: the ledger's keys and the configuration.
// The recovery shares are not: they belong with their custodians.
var keyFiles = []string{"ledger.key", "ledger.pub", "dissent.toml"}

// Snapshot writes a consistent copy of a running SQLite deployment into
// the empty folder out: the database by VACUUM INTO (a transactionally
// consistent copy taken while the server runs), the ledger's keys, the
// configuration, and the latest signed checkpoint as `checkpoint`.
func Snapshot(ctx context.Context, db *sqlstore.DB, data, out string) error {
	if db.Dialect() != "sqlite" {
		return errors.New("backup: snapshots are for the embedded store; back PostgreSQL up with pg_dump (docs/OPERATIONS.md)")
	}
	if err := emptyDir(out); err != nil {
		return err
	}
	// The checkpoint is read first: the copy then holds at least its leaves.
	var note []byte
	err := inTx(ctx, db, func(tx store.Tx) error {
		var err error
		_, note, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup: latest checkpoint: %w", err)
	}
	if _, err := db.Raw().ExecContext(ctx, `VACUUM INTO ?`, filepath.Join(out, "dissent.db")); err != nil {
		return fmt.Errorf("backup: copy the database: %w", err)
	}
	for _, f := range keyFiles {
		if err := copyFile(filepath.Join(data, f), filepath.Join(out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, "checkpoint"), note, 0o600)
}

// Verify checks a store against a signed checkpoint: the checkpoint's
// signature, every stored hash recomputed from the leaves, and that the
// ledger extends the checkpoint.
func Verify(ctx context.Context, st store.Store, note []byte, vkey string) (ledger.Checkpoint, error) {
	cp, err := ledger.OpenCheckpoint(note, vkey)
	if err != nil {
		return cp, fmt.Errorf("backup: the checkpoint: %w", err)
	}
	err = inTx(ctx, st, func(tx store.Tx) error {
		if err := ledger.SelfCheck(ctx, tx.LedgerStorage("", ""), nil); err != nil {
			return err
		}
		return ledger.CheckConsistent(ctx, tx.LedgerStorage("", ""), cp)
	})
	if err != nil {
		return cp, fmt.Errorf("backup: the ledger does not verify: %w", err)
	}
	return cp, nil
}

// Restore copies a snapshot into the empty data folder and returns the
// path of its checkpoint, for Verify.
func Restore(from, data string) error {
	for _, f := range []string{"dissent.db", "checkpoint", "ledger.pub"} {
		if _, err := os.Stat(filepath.Join(from, f)); err != nil {
			return fmt.Errorf("backup: %s is not a snapshot (no %s)", from, f)
		}
	}
	if err := emptyDir(data); err != nil {
		return err
	}
	for _, f := range append([]string{"dissent.db", "checkpoint"}, keyFiles...) {
		if err := copyFile(filepath.Join(from, f), filepath.Join(data, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Tables in an order that respects foreign keys. Tables this list does not
// name are copied after it, so a later migration's table is not forgotten.
var tableOrder = []string{"users", "settings", "sessions", "group_keys", "memos", "revisions", "revision_headings", "items", "access",
	"author_index", "mailbox", "ledger_head", "ledger_leaves", "ledger_hashes", "ledger_details", "checkpoints", "notifications"}

// Copy moves every row of an embedded deployment into an empty, migrated
// PostgreSQL store, in one transaction on the target. The source should
// not take writes meanwhile (stop the server first).
func Copy(ctx context.Context, from, to *sqlstore.DB) (rows int, err error) {
	src, dst := from.Raw(), to.Raw()
	tables, err := sqliteTables(ctx, src)
	if err != nil {
		return 0, err
	}
	var n int
	if err := dst.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil || n > 0 {
		return 0, fmt.Errorf("backup: the target database must be empty (it has %d users; %v)", n, err)
	}
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	// The migration seeded the ledger head; the source's replaces it.
	if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_head`); err != nil {
		return 0, err
	}
	for _, table := range tables {
		c, err := copyTable(ctx, src, tx, table)
		if err != nil {
			return rows, fmt.Errorf("backup: copy %s: %w", table, err)
		}
		rows += c
	}
	return rows, tx.Commit()
}

func sqliteTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rs, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations'`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	present := map[string]bool{}
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			return nil, err
		}
		present[name] = true
	}
	var out []string
	for _, t := range tableOrder {
		if present[t] {
			out = append(out, t)
			delete(present, t)
		}
	}
	for t := range present {
		out = append(out, t)
	}
	return out, rs.Err()
}

func copyTable(ctx context.Context, src *sql.DB, dst *sql.Tx, table string) (int, error) {
	rs, err := src.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return 0, err
	}
	marks := make([]string, len(cols))
	for i := range cols {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	n := 0
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return n, err
		}
		if _, err := dst.ExecContext(ctx, insert, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rs.Err()
}

func inTx(ctx context.Context, st store.Store, fn func(store.Tx) error) error {
	tx, err := st.Begin(ctx, false)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	} else if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("backup: %s is not empty", dir)
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
