package sqlstore

import (
	"context"
	"database/sql"

	"github.com/dissent-channel/dissent/internal/store"
)

// AddNotification stores a notification, numbering it after the user's last.
func (t *Tx) AddNotification(ctx context.Context, n *store.Notification) error {
	// Lock the user's row so that concurrent transactions on PostgreSQL
	// number one user's notifications in turn rather than both reading the
	// same MAX(seq); SQLite's single writer serialises them already.
	if _, err := t.exec(ctx, `UPDATE users SET version = version WHERE id = ?`, n.UserID); err != nil {
		return err
	}
	if err := t.row(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM notifications WHERE user_id = ?`, n.UserID).Scan(&n.Seq); err != nil {
		return scanErr(err)
	}
	_, err := t.exec(ctx, `INSERT INTO notifications (id, seq, user_id, kind, memo_id, due_at, created_at, read, email, email_state, attempts, next_try)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.Seq, n.UserID, n.Kind, n.MemoID, n.DueAt, n.CreatedAt, b2i(n.Read), n.Email, n.EmailState, n.Attempts, n.NextTry)
	return err
}

// Notifications returns a user's newest notifications.
func (t *Tx) Notifications(ctx context.Context, userID string, limit int) ([]*store.Notification, error) {
	rows, err := t.query(ctx, `SELECT id, seq, user_id, kind, memo_id, due_at, created_at, read, email, email_state, attempts, next_try
		FROM notifications WHERE user_id = ? ORDER BY seq DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (*store.Notification, error) {
		var n store.Notification
		var read int
		err := r.Scan(&n.ID, &n.Seq, &n.UserID, &n.Kind, &n.MemoID, &n.DueAt, &n.CreatedAt, &read, &n.Email, &n.EmailState, &n.Attempts, &n.NextTry)
		n.Read = read == 1
		return &n, err
	})
}

// MarkNotificationsRead marks a user's notifications up to seq as read.
func (t *Tx) MarkNotificationsRead(ctx context.Context, userID string, upTo int64) error {
	_, err := t.exec(ctx, `UPDATE notifications SET read = 1 WHERE user_id = ? AND seq <= ?`, userID, upTo)
	return err
}

// UnreadNotifications counts a user's unread notifications.
func (t *Tx) UnreadNotifications(ctx context.Context, userID string) (int, error) {
	var n int
	err := t.row(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read = 0`, userID).Scan(&n)
	return n, scanErr(err)
}
