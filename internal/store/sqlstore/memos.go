package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dissent-channel/dissent/internal/store"
)

const memoColumns = `id, state, profile, revision, key_version, created_at, updated_at, submitted_at, acknowledged_at,
	replied_at, ended_at, acknowledge_by, reply_by, reply_latest, due_at, check_at, authors_count,
	appeal_by, appealed_at, appeal_reply_by, appeal_replied_at, office_message_at, roster, receipt, version`

// lightMemoColumns are memoColumns without the roster and receipt.
var lightMemoColumns = strings.Replace(memoColumns, "roster, receipt", "'' AS roster, NULL AS receipt", 1)

func scanMemo(r interface{ Scan(...any) error }) (*store.Memo, error) {
	var m store.Memo
	err := r.Scan(&m.ID, &m.State, &m.Profile, &m.Revision, &m.KeyVersion, &m.CreatedAt, &m.UpdatedAt, &m.SubmittedAt,
		&m.AcknowledgedAt, &m.RepliedAt, &m.EndedAt, &m.AcknowledgeBy, &m.ReplyBy, &m.ReplyLatest, &m.DueAt, &m.CheckAt,
		&m.AuthorsCount, &m.AppealBy, &m.AppealedAt, &m.AppealReplyBy, &m.AppealRepliedAt, &m.OfficeMessageAt, &m.Roster, &m.Receipt, &m.Version)
	return &m, err
}

func memoArgs(m *store.Memo) []any {
	return []any{m.State, m.Profile, m.Revision, m.KeyVersion, m.CreatedAt, m.UpdatedAt, m.SubmittedAt,
		m.AcknowledgedAt, m.RepliedAt, m.EndedAt, m.AcknowledgeBy, m.ReplyBy, m.ReplyLatest, m.DueAt, m.CheckAt,
		m.AuthorsCount, m.AppealBy, m.AppealedAt, m.AppealReplyBy, m.AppealRepliedAt, m.OfficeMessageAt, m.Roster, nullBlob(m.Receipt)}
}

// CreateMemo inserts a memo.
func (t *Tx) CreateMemo(ctx context.Context, m *store.Memo) error {
	m.Version = 1
	_, err := t.exec(ctx, `INSERT INTO memos (`+memoColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append(append([]any{m.ID}, memoArgs(m)...), m.Version)...)
	return err
}

// UpdateMemo writes m if nobody changed it since it was read.
func (t *Tx) UpdateMemo(ctx context.Context, m *store.Memo) error {
	if len(m.Roster) == 0 {
		// Every memo has a sealed roster; a row without one is a light
		// row (MemoFilter.Light), and writing it back would erase it.
		return fmt.Errorf("sqlstore: update memo %s: no roster (a light row cannot be written back)", m.ID)
	}
	err := t.execOne(ctx, store.ErrConflict, `UPDATE memos SET state = ?, profile = ?, revision = ?, key_version = ?,
		created_at = ?, updated_at = ?, submitted_at = ?, acknowledged_at = ?, replied_at = ?, ended_at = ?,
		acknowledge_by = ?, reply_by = ?, reply_latest = ?, due_at = ?, check_at = ?, authors_count = ?,
		appeal_by = ?, appealed_at = ?, appeal_reply_by = ?, appeal_replied_at = ?, office_message_at = ?, roster = ?, receipt = ?,
		version = version + 1 WHERE id = ? AND version = ?`,
		append(memoArgs(m), m.ID, m.Version)...)
	if err == nil {
		m.Version++
	}
	return err
}

// SetMemoCheck sets check_at alone, if the memo is still at version.
func (t *Tx) SetMemoCheck(ctx context.Context, id string, version, checkAt int64) (bool, error) {
	r, err := t.exec(ctx, `UPDATE memos SET check_at = ? WHERE id = ? AND version = ?`, checkAt, id, version)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// MemoByID returns one memo.
func (t *Tx) MemoByID(ctx context.Context, id string) (*store.Memo, error) {
	m, err := scanMemo(t.row(ctx, sqlMemoByID, id))
	return m, scanErr(err)
}

// MemoVersion returns one memo's version.
func (t *Tx) MemoVersion(ctx context.Context, id string) (int64, error) {
	var v int64
	err := t.row(ctx, `SELECT version FROM memos WHERE id = ?`, id).Scan(&v)
	return v, scanErr(err)
}

// MemosByIDs returns the memos that exist among ids, in no set order.
func (t *Tx) MemosByIDs(ctx context.Context, ids []string) ([]*store.Memo, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(ids)
	rows, err := t.query(ctx, `SELECT `+memoColumns+` FROM memos WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Memo, error) { return scanMemo(r) })
}

// ListMemos lists memos by f.
func (t *Tx) ListMemos(ctx context.Context, f store.MemoFilter) ([]*store.Memo, error) {
	var where []string
	var args []any
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return nil, nil
		}
		in, ids := inList(f.IDs)
		where = append(where, `id IN (`+in+`)`)
		args = append(args, ids...)
	}
	if f.Grantee != "" {
		where = append(where, `id IN (SELECT memo_id FROM access WHERE grantee = ?)`)
		args = append(args, f.Grantee)
	}
	if f.Rotated {
		where = append(where, `key_version > 1`)
	}
	if f.Submitted {
		where = append(where, `submitted_at > 0`)
	}
	if len(f.States) > 0 {
		in, states := inList(f.States)
		where = append(where, `state IN (`+in+`)`)
		args = append(args, states...)
	}
	order := `updated_at DESC, id DESC`
	if f.ByID {
		order = `id`
		if f.AfterID != "" {
			where = append(where, `id > ?`)
			args = append(args, f.AfterID)
		}
	} else if f.CheckBy != 0 {
		// As for ByDue below: the row value first, then the bounds that
		// let both databases read the (check_at, id) partial index.
		order = `check_at, id`
		if f.AfterID != "" {
			where = append(where, `(check_at, id) > (?, ?)`)
			args = append(args, f.AfterKey, f.AfterID)
		}
		where = append(where, `check_at > 0`, `check_at <= ?`)
		args = append(args, f.CheckBy)
	} else if f.ByDue {
		order = `due_at, id`
		// A row value, which both databases read as a range of the
		// (due_at, id) index: the equivalent OR read every memo sharing
		// the cursor's deadline again on every page. It comes before
		// due_at > 0 (which lets SQLite use the partial index at all):
		// in the other order SQLite seeks on due_at > 0 alone.
		if f.AfterID != "" {
			where = append(where, `(due_at, id) > (?, ?)`)
			args = append(args, f.AfterKey, f.AfterID)
		}
		where = append(where, `due_at > 0`)
	} else if f.AfterID != "" {
		where = append(where, `(updated_at, id) < (?, ?)`)
		args = append(args, f.AfterKey, f.AfterID)
	}
	columns := memoColumns
	if f.Light {
		columns = lightMemoColumns
	}
	query := `SELECT ` + columns + ` FROM memos`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY ` + order + ` LIMIT ?`
	args = append(args, f.Limit)
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Memo, error) { return scanMemo(r) })
}

// PutRevision stores a new revision; revisions are never rewritten.
func (t *Tx) PutRevision(ctx context.Context, r *store.Revision) error {
	_, err := t.exec(ctx, `INSERT INTO revisions (memo_id, revision, key_version, sealed, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.MemoID, r.Revision, r.KeyVersion, r.Sealed, r.ContentHash, r.CreatedAt)
	if err != nil || len(r.Heading) == 0 {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO revision_headings (memo_id, revision, key_version, sealed) VALUES (?, ?, ?, ?)`,
		r.MemoID, r.Revision, r.KeyVersion, r.Heading)
	return err
}

const revisionColumns = `memo_id, revision, key_version, sealed, content_hash, created_at`

func scanRevision(r interface{ Scan(...any) error }) (*store.Revision, error) {
	var v store.Revision
	err := r.Scan(&v.MemoID, &v.Revision, &v.KeyVersion, &v.Sealed, &v.ContentHash, &v.CreatedAt)
	return &v, err
}

// Revision returns one revision.
func (t *Tx) Revision(ctx context.Context, memoID string, revision int) (*store.Revision, error) {
	if rows, ok := t.takeAhead(sqlCurrentRevision, []any{memoID, memoID}); ok {
		// ReadAhead's: the one asked for unless the memo has moved on
		// meanwhile (or has no such revision), and then it is read again.
		if v, err := scanRevision(trackedRow{rows: rows, t: t}); err == nil && v.Revision == revision {
			return v, nil
		}
	}
	v, err := scanRevision(t.row(ctx, `SELECT `+revisionColumns+` FROM revisions WHERE memo_id = ? AND revision = ?`, memoID, revision))
	return v, scanErr(err)
}

// Headings returns the heading of one revision of each memo.
func (t *Tx) Headings(ctx context.Context, revs map[string]int) (map[string]store.Heading, error) {
	out := make(map[string]store.Heading, len(revs))
	ids := slices.Sorted(maps.Keys(revs))
	// Every heading of these memos, the revisions asked for kept: an OR of
	// (memo_id, revision) pairs made PostgreSQL read the whole index on
	// every call; a plain IN list is a few probes on both databases.
	err := inBatches(ids, func(batch []string) error {
		st := headingsStmt(batch)
		rows, err := t.query(ctx, st.Query, st.Args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var h store.Heading
			if err := rows.Scan(&id, &h.Revision, &h.KeyVersion, &h.Sealed); err != nil {
				return err
			}
			if h.Revision == revs[id] {
				out[id] = h
			}
		}
		return rows.Err()
	})
	return out, err
}

// Revisions returns a page of revisions, oldest first.
func (t *Tx) Revisions(ctx context.Context, memoID string, after, limit int) ([]*store.Revision, error) {
	if limit <= 0 {
		limit = -1 // no limit, in both dialects
	}
	q := `SELECT ` + revisionColumns + ` FROM revisions WHERE memo_id = ? AND revision > ? ORDER BY revision`
	args := []any{memoID, after}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Revision, error) { return scanRevision(r) })
}

// RevisionStamps returns every revision's number, time and content hash.
func (t *Tx) RevisionStamps(ctx context.Context, memoID string) ([]*store.Revision, error) {
	rows, err := t.query(ctx, `SELECT memo_id, revision, key_version, content_hash, created_at FROM revisions WHERE memo_id = ? ORDER BY revision`, memoID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Revision, error) {
		var v store.Revision
		err := r.Scan(&v.MemoID, &v.Revision, &v.KeyVersion, &v.ContentHash, &v.CreatedAt)
		return &v, err
	})
}

// AddItem stores a comment, meeting, reply or reason.
func (t *Tx) AddItem(ctx context.Context, it *store.Item) error {
	_, err := t.exec(ctx, `INSERT INTO items (id, memo_id, kind, key_version, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		it.ID, it.MemoID, it.Kind, it.KeyVersion, it.Sealed, it.CreatedAt)
	return err
}

// CountItems counts a memo's items of one kind.
func (t *Tx) CountItems(ctx context.Context, memoID, kind string) (int, error) {
	var n int
	err := t.row(ctx, `SELECT count(*) FROM items WHERE memo_id = ? AND kind = ?`, memoID, kind).Scan(&n)
	return n, err
}

// Items returns a memo's items, oldest first.
func (t *Tx) Items(ctx context.Context, memoID string) ([]*store.Item, error) {
	rows, err := t.query(ctx, sqlItems, memoID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Item, error) {
		var it store.Item
		err := r.Scan(&it.ID, &it.MemoID, &it.Kind, &it.KeyVersion, &it.Sealed, &it.CreatedAt)
		return &it, err
	})
}

// PutAccess stores or replaces a wrapped key.
func (t *Tx) PutAccess(ctx context.Context, as ...*store.Access) error {
	// One statement per batch (a submission's seven wraps in one). A row
	// may not be upserted twice in one statement, so of two wraps with the
	// same key the last is kept, as separate statements would leave it.
	type key struct {
		memo, grantee string
		kv            int
	}
	last := make(map[key]int, len(as))
	for i, a := range as {
		last[key{a.MemoID, a.Grantee, a.KeyVersion}] = i
	}
	var rows []*store.Access
	for i, a := range as {
		if last[key{a.MemoID, a.Grantee, a.KeyVersion}] == i {
			rows = append(rows, a)
		}
	}
	const perStatement = 32 // 8 values each: within maxParams, so prepared
	for batch := range slices.Chunk(rows, perStatement) {
		args := make([]any, 0, 8*len(batch))
		for _, a := range batch {
			args = append(args, a.MemoID, a.Grantee, a.KeyVersion, a.Wrapped, a.AddedBy, nullBlob(a.Reason), b2i(a.Standing), a.AddedAt)
		}
		err := t.execLater(ctx, nil, `INSERT INTO access (`+accessColumns+`) VALUES `+valueRows(len(batch), 8)+`
			ON CONFLICT (memo_id, grantee, key_version) DO UPDATE SET wrapped = excluded.wrapped`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}

const accessColumns = `memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at`

func scanAccess(r interface{ Scan(...any) error }) (*store.Access, error) {
	var a store.Access
	var standing int
	err := r.Scan(&a.MemoID, &a.Grantee, &a.KeyVersion, &a.Wrapped, &a.AddedBy, &a.Reason, &standing, &a.AddedAt)
	a.Standing = standing == 1
	return &a, err
}

// AccessFor returns one grantee's wrap of one key version.
func (t *Tx) AccessFor(ctx context.Context, memoID, grantee string, keyVersion int) (*store.Access, error) {
	a, err := scanAccess(t.row(ctx, `SELECT `+accessColumns+` FROM access WHERE memo_id = ? AND grantee = ? AND key_version = ?`, memoID, grantee, keyVersion))
	return a, scanErr(err)
}

// AccessList returns every wrap of a memo.
func (t *Tx) AccessList(ctx context.Context, memoID string) ([]*store.Access, error) {
	rows, err := t.query(ctx, sqlAccessList, memoID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Access, error) { return scanAccess(r) })
}

// AccessForMemos returns every wrap of these memos to these grantees.
func (t *Tx) AccessForMemos(ctx context.Context, memoIDs, grantees []string) ([]*store.Access, error) {
	if len(grantees) == 0 || len(grantees) > inBatch/2 {
		return nil, fmt.Errorf("sqlstore: AccessForMemos takes 1 to %d grantees, not %d", inBatch/2, len(grantees))
	}
	// One grantee at a time, each a seek per memo in (grantee, memo_id):
	// with both as IN lists PostgreSQL read every wrap of the grantee.
	var out []*store.Access
	for _, grantee := range slices.Compact(slices.Sorted(slices.Values(grantees))) {
		err := inBatches(memoIDs, func(batch []string) error {
			st := accessForStmt(grantee, batch)
			rows, err := t.query(ctx, st.Query, st.Args...)
			if err != nil {
				return err
			}
			got, err := collect(rows, func(r Rows) (*store.Access, error) { return scanAccess(r) })
			out = append(out, got...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// headingsStmt reads every heading of memos (at most inBatch): Headings
// runs it, and ReadPageAhead sends it ahead.
func headingsStmt(memoIDs []string) Stmt {
	in, args := inList(memoIDs)
	return Stmt{`SELECT memo_id, revision, key_version, sealed FROM revision_headings WHERE memo_id IN (` + in + `)`, args}
}

// accessForStmt reads the wraps of memos (at most inBatch) to one grantee:
// AccessForMemos runs it, and ReadPageAhead sends it ahead.
func accessForStmt(grantee string, memoIDs []string) Stmt {
	in, args := inList(memoIDs)
	return Stmt{`SELECT ` + accessColumns + ` FROM access WHERE grantee = ? AND memo_id IN (` + in + `)`, append([]any{grantee}, args...)}
}

// DeleteAccess removes every wrap of a memo to a grantee.
func (t *Tx) DeleteAccess(ctx context.Context, memoID, grantee string) error {
	_, err := t.exec(ctx, `DELETE FROM access WHERE memo_id = ? AND grantee = ?`, memoID, grantee)
	return err
}

// DeleteAccessOf removes every wrap to a grantee, of every memo.
func (t *Tx) DeleteAccessOf(ctx context.Context, grantee string) error {
	_, err := t.exec(ctx, `DELETE FROM access WHERE grantee = ?`, grantee)
	return err
}

// Withhold records that memoID was not wrapped to userIDs.
func (t *Tx) Withhold(ctx context.Context, memoID string, userIDs ...string) error {
	if len(userIDs) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(userIDs))
	for _, id := range userIDs {
		args = append(args, id, memoID)
	}
	_, err := t.exec(ctx, `INSERT INTO withheld (user_id, memo_id) VALUES `+valueRows(len(userIDs), 2)+` ON CONFLICT DO NOTHING`, args...)
	return err
}

// WithheldFrom lists the memos withheld from userID.
func (t *Tx) WithheldFrom(ctx context.Context, userID string) ([]string, error) {
	return t.ids(ctx, `SELECT memo_id FROM withheld WHERE user_id = ? ORDER BY memo_id`, userID)
}

// WithheldOf lists the users memoID was withheld from.
func (t *Tx) WithheldOf(ctx context.Context, memoID string) ([]string, error) {
	return t.ids(ctx, `SELECT user_id FROM withheld WHERE memo_id = ? ORDER BY user_id`, memoID)
}

// ids runs a query of one text column.
func (t *Tx) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

// Unwithhold forgets that memoID was withheld from userID.
func (t *Tx) Unwithhold(ctx context.Context, userID, memoID string) error {
	_, err := t.exec(ctx, `DELETE FROM withheld WHERE user_id = ? AND memo_id = ?`, userID, memoID)
	return err
}

// MemoFacts returns the plaintext facts of memos submitted in [from, to).
// Drafts (submitted_at 0) are never counted, even from 0: figures must not
// tell anyone that a memo is being written.
// sqlMistypedMemo finds, on SQLite, a memo whose row holds a value of
// another type than its column's: text for the ids and names, integers
// for the rest of memoColumns but the sealed roster and receipt.
var sqlMistypedMemo = func() string {
	var conds []string
	for _, c := range strings.Split(memoColumns, ",") {
		switch c = strings.TrimSpace(c); c {
		case "id", "state", "profile":
			conds = append(conds, "typeof("+c+") <> 'text'")
		case "roster", "receipt":
		default:
			conds = append(conds, "typeof("+c+") <> 'integer'")
		}
	}
	return `SELECT CAST(id AS TEXT) FROM memos WHERE ` + strings.Join(conds, " OR ") + ` LIMIT 1`
}()

// MistypedMemo is store.Tx's. PostgreSQL's columns hold their own type
// only.
func (t *Tx) MistypedMemo(ctx context.Context) (string, error) {
	if t.db.d.Numbered {
		return "", nil
	}
	var id string
	err := t.row(ctx, sqlMistypedMemo).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func (t *Tx) MemoFacts(ctx context.Context, from, to int64) ([]store.MemoFacts, error) {
	rows, err := t.query(ctx, `SELECT id, state, submitted_at, acknowledged_at, replied_at, ended_at, acknowledge_by, reply_by, reply_latest, authors_count,
		appealed_at, appeal_reply_by, appeal_replied_at FROM memos WHERE submitted_at > 0 AND submitted_at >= ? AND submitted_at < ? ORDER BY submitted_at`, from, to)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (store.MemoFacts, error) {
		var f store.MemoFacts
		err := r.Scan(&f.ID, &f.State, &f.SubmittedAt, &f.AcknowledgedAt, &f.RepliedAt, &f.EndedAt, &f.AcknowledgeBy, &f.ReplyBy, &f.ReplyLatest, &f.AuthorsCount,
			&f.AppealedAt, &f.AppealReplyBy, &f.AppealRepliedAt)
		return f, err
	})
}

// PutPublication stores a published case; a memo published already is a
// conflict.
func (t *Tx) PutPublication(ctx context.Context, p *store.Publication) error {
	var n int
	if err := t.row(ctx, `SELECT COUNT(*) FROM publications WHERE memo_id = ?`, p.MemoID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return store.ErrConflict
	}
	_, err := t.exec(ctx, `INSERT INTO publications (memo_id, title, marking, published_at, doc) VALUES (?, ?, ?, ?, ?)`,
		p.MemoID, p.Title, p.Marking, p.PublishedAt, p.Doc)
	return err
}

// Publication returns one published case.
func (t *Tx) Publication(ctx context.Context, memoID string) (*store.Publication, error) {
	p := store.Publication{MemoID: memoID}
	err := t.row(ctx, `SELECT title, marking, published_at, doc FROM publications WHERE memo_id = ?`, memoID).Scan(&p.Title, &p.Marking, &p.PublishedAt, &p.Doc)
	if err != nil {
		return nil, scanErr(err)
	}
	return &p, nil
}

// ListPublications lists published cases, newest first, without their
// documents.
func (t *Tx) ListPublications(ctx context.Context, afterAt int64, afterID string, limit int) ([]*store.Publication, error) {
	q, args := `SELECT memo_id, title, marking, published_at FROM publications`, []any{}
	if afterID != "" {
		q += ` WHERE published_at < ? OR (published_at = ? AND memo_id < ?)`
		args = append(args, afterAt, afterAt, afterID)
	}
	rows, err := t.query(ctx, q+` ORDER BY published_at DESC, memo_id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Publication, error) {
		var p store.Publication
		err := r.Scan(&p.MemoID, &p.Title, &p.Marking, &p.PublishedAt)
		return &p, err
	})
}

// PublicationTimes returns when each published memo among ids was
// published.
func (t *Tx) PublicationTimes(ctx context.Context, ids []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	rows, err := t.query(ctx, `SELECT memo_id, published_at FROM publications WHERE memo_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	type row struct {
		id string
		at int64
	}
	found, err := collect(rows, func(r Rows) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.at)
		return x, err
	})
	for _, x := range found {
		out[x.id] = x.at
	}
	return out, err
}
