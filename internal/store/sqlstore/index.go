package sqlstore

import (
	"context"

	"github.com/dissent-channel/dissent/internal/store"
)

// PutIndexEntry stores or replaces an author-index entry.
func (t *Tx) PutIndexEntry(ctx context.Context, owner, entry, sealed []byte) error {
	_, err := t.exec(ctx, `INSERT INTO author_index (owner, entry, sealed) VALUES (?, ?, ?)
		ON CONFLICT (owner, entry) DO UPDATE SET sealed = excluded.sealed`, owner, entry, sealed)
	return err
}

// IndexEntry returns one entry, under any of owners.
func (t *Tx) IndexEntry(ctx context.Context, owners [][]byte, entry []byte) ([]byte, error) {
	if len(owners) == 0 {
		return nil, store.ErrNotFound
	}
	var sealed []byte
	st := indexEntryStmt(owners, entry)
	err := t.row(ctx, st.Query, st.Args...).Scan(&sealed)
	return sealed, scanErr(err)
}

// indexEntryStmt reads the entry under tag entry of any of owners:
// IndexEntry runs it, and ReadAhead sends it ahead. The first owner's
// comes first, should two hold the tag.
func indexEntryStmt(owners [][]byte, entry []byte) Stmt {
	in, args := inList(owners)
	return Stmt{`SELECT sealed FROM author_index WHERE entry = ? AND owner IN (` + in + `) ORDER BY owner = ? DESC LIMIT 1`,
		append(append([]any{entry}, args...), owners[0])}
}

// IndexEntriesFor returns the entries of owners under these tags.
func (t *Tx) IndexEntriesFor(ctx context.Context, owners [][]byte, entries [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(entries))
	if len(owners) == 0 {
		return out, nil
	}
	err := inBatches(entries, func(batch [][]byte) error {
		st := indexEntriesStmt(owners, batch)
		rows, err := t.query(ctx, st.Query, st.Args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var entry, sealed []byte
			if err := rows.Scan(&entry, &sealed); err != nil {
				return err
			}
			out[string(entry)] = sealed
		}
		return rows.Err()
	})
	return out, err
}

// indexEntriesStmt reads the entries of owners among entries (at most
// inBatch): IndexEntriesFor runs it, and ReadPageAhead sends it ahead.
func indexEntriesStmt(owners [][]byte, entries [][]byte) Stmt {
	oin, oargs := inList(owners)
	in, args := inList(entries)
	return Stmt{`SELECT entry, sealed FROM author_index WHERE owner IN (` + oin + `) AND entry IN (` + in + `)`, append(oargs, args...)}
}

// IndexEntries returns every entry of an owner.
func (t *Tx) IndexEntries(ctx context.Context, owner []byte) ([][]byte, error) {
	rows, err := t.query(ctx, `SELECT sealed FROM author_index WHERE owner = ? ORDER BY entry`, owner)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) ([]byte, error) {
		var b []byte
		err := r.Scan(&b)
		return b, err
	})
}

// PostMail stores a sealed mailbox entry.
func (t *Tx) PostMail(ctx context.Context, m *store.Mail) error {
	_, err := t.exec(ctx, `INSERT INTO mailbox (id, posted_at, sealed) VALUES (?, ?, ?)`, m.ID, m.PostedAt, m.Sealed)
	return err
}

// MailSince returns entries after (since, afterID), oldest first.
func (t *Tx) MailSince(ctx context.Context, since int64, afterID string, limit int) ([]*store.Mail, error) {
	rows, err := t.query(ctx, `SELECT id, posted_at, sealed FROM mailbox WHERE (posted_at, id) > (?, ?) ORDER BY posted_at, id LIMIT ?`, since, afterID, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Mail, error) {
		var m store.Mail
		err := r.Scan(&m.ID, &m.PostedAt, &m.Sealed)
		return &m, err
	})
}

// DeleteMail removes collected entries.
func (t *Tx) DeleteMail(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := inList(ids)
	_, err := t.exec(ctx, `DELETE FROM mailbox WHERE id IN (`+in+`)`, args...)
	return err
}
