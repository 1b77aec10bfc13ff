package sqlstore

import (
	"context"

	"github.com/dissent-channel/dissent/internal/store"
)

// ClaimJob takes a due job's lease; see store.Tx. On PostgreSQL two nodes
// claiming at once both reach the UPDATE; the second waits for the first's
// row lock, then re-reads the row, finds the lease taken and changes
// nothing. SQLite has one writer, so claims never overlap.
func (t *Tx) ClaimJob(ctx context.Context, name, owner string, now, leaseUntil int64) (bool, error) {
	if _, err := t.exec(ctx, `INSERT INTO jobs (name, run_at) VALUES (?, 0) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return false, err
	}
	r, err := t.exec(ctx, `UPDATE jobs SET lease_until = ?, lease_owner = ? WHERE name = ? AND run_at <= ? AND lease_until <= ?`,
		leaseUntil, owner, name, now, now)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// FinishJob records a run and releases the lease.
func (t *Tx) FinishJob(ctx context.Context, name, owner string, at, next int64, lastError string) error {
	return t.execOne(ctx, store.ErrConflict, `UPDATE jobs SET run_at = ?, lease_until = 0, lease_owner = '', last_run = ?, last_error = ?
		WHERE name = ? AND lease_owner = ?`, next, at, lastError, name, owner)
}

// Jobs lists the periodic jobs by name.
func (t *Tx) Jobs(ctx context.Context) ([]*store.Job, error) {
	rows, err := t.query(ctx, `SELECT name, run_at, lease_until, lease_owner, last_run, last_error FROM jobs ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Job, error) {
		var j store.Job
		err := r.Scan(&j.Name, &j.RunAt, &j.LeaseUntil, &j.LeaseOwner, &j.LastRun, &j.LastError)
		return &j, err
	})
}

// MarkReminder records a sent reminder once.
func (t *Tx) MarkReminder(ctx context.Context, memoID, kind string, dueAt, at int64) (bool, error) {
	r, err := t.exec(ctx, `INSERT INTO reminders (memo_id, kind, due_at, sent_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (memo_id, kind, due_at) DO NOTHING`, memoID, kind, dueAt, at)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

const outboxColumns = `id, seq, user_id, kind, memo_id, due_at, created_at, email, email_state, attempts, next_try`

// ClaimMail leases due outbox rows; see store.Tx.
func (t *Tx) ClaimMail(ctx context.Context, now, leaseUntil int64, limit int) ([]*store.Notification, error) {
	query := `SELECT ` + outboxColumns + ` FROM notifications WHERE email_state = 'pending' AND next_try <= ? ORDER BY next_try, id LIMIT ?`
	if t.db.d.Name == "postgres" {
		// Rows another node is claiming right now are skipped, not waited
		// for: each node takes a different batch and none sends a row
		// twice. (SQLite's single writer makes the clause unnecessary, and
		// it has no such syntax.)
		query += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := t.query(ctx, query, now, limit)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(r Rows) (*store.Notification, error) {
		var n store.Notification
		err := r.Scan(&n.ID, &n.Seq, &n.UserID, &n.Kind, &n.MemoID, &n.DueAt, &n.CreatedAt, &n.Email, &n.EmailState, &n.Attempts, &n.NextTry)
		return &n, err
	})
	if err != nil {
		return nil, err
	}
	for _, n := range out {
		if _, err := t.exec(ctx, `UPDATE notifications SET attempts = attempts + 1, next_try = ? WHERE id = ?`, leaseUntil, n.ID); err != nil {
			return nil, err
		}
		n.Attempts++
		n.NextTry = leaseUntil
	}
	return out, nil
}

// MailSent settles a claim as sent.
func (t *Tx) MailSent(ctx context.Context, id string, attempt int, at int64) error {
	return t.execOne(ctx, store.ErrConflict, `UPDATE notifications SET email_state = 'sent', sent_at = ?, mail_error = ''
		WHERE id = ? AND attempts = ? AND email_state = 'pending'`, at, id, attempt)
}

// MailFailed settles a claim that could not be sent.
func (t *Tx) MailFailed(ctx context.Context, id string, attempt int, nextTry int64, permanent bool, reason string) error {
	state := "pending"
	if permanent {
		state = "failed"
	}
	return t.execOne(ctx, store.ErrConflict, `UPDATE notifications SET email_state = ?, next_try = ?, mail_error = ?
		WHERE id = ? AND attempts = ? AND email_state = 'pending'`, state, nextTry, reason, id, attempt)
}
