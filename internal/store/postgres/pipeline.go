package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

// pipeline is sqlstore.Pipeline over pgx's batches: the statements go out
// together, in the extended protocol's pipeline, and end with one Sync, so
// a statement after one that failed does not run.
func pipeline(ctx context.Context, conn *sql.Conn, stmts []sqlstore.Stmt, queries int) (affected []int64, rows []sqlstore.Rows, failed int, err error) {
	failed = -1
	rawErr := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: pipeline: the driver's connection is a %T", dc)
		}
		pc := sc.Conn()
		if simple(stmts, queries) {
			affected, failed, err = runSimple(ctx, pc.PgConn(), stmts)
			return nil
		}
		b := &pgx.Batch{}
		for _, s := range stmts {
			b.Queue(s.Query, s.Args...)
		}
		br := pc.SendBatch(ctx, b)
		for i := range stmts {
			if i >= len(stmts)-queries {
				r, qerr := br.Query()
				var buf *bufferedRows
				if qerr == nil {
					buf, qerr = readAll(r, pc.TypeMap())
				}
				if qerr != nil {
					failed, err = i, qerr
					break
				}
				rows = append(rows, buf)
				continue
			}
			tag, eerr := br.Exec()
			if eerr != nil {
				failed, err = i, eerr
				break
			}
			affected = append(affected, tag.RowsAffected())
		}
		if cerr := br.Close(); cerr != nil && err == nil {
			failed, err = len(stmts)-1, cerr
		}
		return nil
	})
	if rawErr != nil && err == nil {
		failed, err = 0, rawErr
	}
	if err != nil {
		rows = nil
	}
	return affected, rows, failed, err
}

// simple reports whether stmts, none of which returns rows read (queries
// is 0), are all without arguments: the group's SAVEPOINT, RELEASE,
// ROLLBACK TO, COMMIT.
// Those go in one simple-protocol query instead, since in a transaction
// that a failed statement spoiled PostgreSQL refuses to prepare even the
// ROLLBACK TO that would repair it.
func simple(stmts []sqlstore.Stmt, queries int) bool {
	if queries > 0 {
		return false
	}
	for _, s := range stmts {
		if len(s.Args) > 0 || strings.ContainsRune(s.Query, ';') {
			return false
		}
	}
	return true
}

// runSimple runs statements without arguments in one round trip.
func runSimple(ctx context.Context, c *pgconn.PgConn, stmts []sqlstore.Stmt) (affected []int64, failed int, err error) {
	qs := make([]string, len(stmts))
	for i, s := range stmts {
		qs[i] = s.Query
	}
	results, err := c.Exec(ctx, strings.Join(qs, "; ")).ReadAll()
	for i, r := range results {
		if r.Err != nil {
			return affected, i, r.Err
		}
		affected = append(affected, r.CommandTag.RowsAffected())
	}
	if err != nil {
		return affected, len(results), err
	}
	if len(results) != len(stmts) {
		return affected, len(results), fmt.Errorf("postgres: %d statements sent, %d answered", len(stmts), len(results))
	}
	return affected, -1, nil
}

// readAll reads a result set in full, for scanning after its connection
// has gone back to the pool.
func readAll(r pgx.Rows, m *pgtype.Map) (*bufferedRows, error) {
	defer r.Close()
	b := &bufferedRows{fields: append([]pgconn.FieldDescription(nil), r.FieldDescriptions()...), m: m}
	for r.Next() {
		raw := r.RawValues()
		row := make([][]byte, len(raw))
		for i, v := range raw {
			if v != nil {
				row[i] = append(make([]byte, 0, len(v)), v...)
			}
		}
		b.rows = append(b.rows, row)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return b, nil
}

// bufferedRows is a result set read in full (sqlstore.Rows).
type bufferedRows struct {
	fields []pgconn.FieldDescription
	rows   [][][]byte
	next   int
	m      *pgtype.Map
}

func (b *bufferedRows) Next() bool {
	if b.next >= len(b.rows) {
		return false
	}
	b.next++
	return true
}

func (b *bufferedRows) Scan(dest ...any) error {
	if b.next == 0 || b.next > len(b.rows) {
		return fmt.Errorf("postgres: Scan called without a row")
	}
	row := b.rows[b.next-1]
	if len(dest) != len(row) {
		return fmt.Errorf("postgres: %d columns scanned into %d values", len(row), len(dest))
	}
	for i, d := range dest {
		f := b.fields[i]
		if err := b.m.Scan(f.DataTypeOID, f.Format, row[i], d); err != nil {
			return fmt.Errorf("postgres: column %q: %w", f.Name, err)
		}
	}
	return nil
}

func (b *bufferedRows) Err() error   { return nil }
func (b *bufferedRows) Close() error { b.next = len(b.rows) + 1; return nil }

// readBatch is sqlstore.ReadBatch over a pgx batch: the reads go out
// together and each one's rows are read in full.
func readBatch(ctx context.Context, conn *sql.Conn, stmts []sqlstore.Stmt) ([]sqlstore.Rows, error) {
	out := make([]sqlstore.Rows, 0, len(stmts))
	err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: read batch: the driver's connection is a %T", dc)
		}
		pc := sc.Conn()
		b := &pgx.Batch{}
		for _, s := range stmts {
			b.Queue(s.Query, s.Args...)
		}
		br := pc.SendBatch(ctx, b)
		for range stmts {
			r, err := br.Query()
			var rows *bufferedRows
			if err == nil {
				rows, err = readAll(r, pc.TypeMap())
			}
			if err != nil {
				_ = br.Close()
				return err
			}
			out = append(out, rows)
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
