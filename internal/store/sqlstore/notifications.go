package sqlstore

import (
	"context"
	"maps"
	"slices"

	"github.com/dissent-channel/dissent/internal/store"
)

// AddNotification stores a notification, numbering it after the user's last.
func (t *Tx) AddNotification(ctx context.Context, n *store.Notification) error {
	return t.AddNotifications(ctx, []*store.Notification{n})
}

// notificationsPerInsert bounds the rows of one INSERT (12 values each).
const notificationsPerInsert = 32

// AddNotifications stores notifications in three statements, not three
// each: they are written in a submission's transaction, which on SQLite
// runs one at a time behind the single writer.
func (t *Tx) AddNotifications(ctx context.Context, ns []*store.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	users := map[string]bool{}
	for _, n := range ns {
		users[n.UserID] = true
	}
	ids := slices.Sorted(maps.Keys(users))
	in, args := inList(ids)
	// On PostgreSQL, lock the users' rows (in id order, the same in every
	// transaction) so that concurrent transactions number one user's
	// notifications in turn rather than both reading the same MAX(seq).
	// SQLite's single writer serialises them already. Pipelined, the lock
	// goes out with the MAX query below, which PostgreSQL runs after the
	// lock is granted, with a snapshot of its own (READ COMMITTED).
	if !t.db.d.SingleWriter {
		if err := t.execLater(ctx, nil, `SELECT id FROM users WHERE id IN (`+in+`) ORDER BY id FOR UPDATE`, args...); err != nil {
			return err
		}
	}
	// One MAX per user, which both databases answer from the end of the
	// user's range of notifications_user; a GROUP BY over the IN list
	// would read every notification of those users.
	rows, err := t.query(ctx, `SELECT u.id, COALESCE((SELECT MAX(n.seq) FROM notifications n WHERE n.user_id = u.id), 0)
		FROM users u WHERE u.id IN (`+in+`)`, args...)
	if err != nil {
		return err
	}
	last := map[string]int64{}
	defer rows.Close()
	for rows.Next() {
		var user string
		var seq int64
		if err := rows.Scan(&user, &seq); err != nil {
			return err
		}
		last[user] = seq
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, n := range ns {
		last[n.UserID]++
		n.Seq = last[n.UserID]
	}
	for batch := range slices.Chunk(ns, notificationsPerInsert) {
		args := make([]any, 0, 12*len(batch))
		for _, n := range batch {
			args = append(args, n.ID, n.Seq, n.UserID, n.Kind, n.MemoID, n.DueAt, n.CreatedAt, b2i(n.Read), n.Email, n.EmailState, n.Attempts, n.NextTry)
		}
		if err := t.execLater(ctx, nil, `INSERT INTO notifications (id, seq, user_id, kind, memo_id, due_at, created_at, read, email, email_state, attempts, next_try)
			VALUES `+valueRows(len(batch), 12), args...); err != nil {
			return err
		}
	}
	return nil
}

// Notifications returns a user's newest notifications.
func (t *Tx) Notifications(ctx context.Context, userID string, limit int) ([]*store.Notification, error) {
	rows, err := t.query(ctx, `SELECT id, seq, user_id, kind, memo_id, due_at, created_at, read, email, email_state, attempts, next_try
		FROM notifications WHERE user_id = ? ORDER BY seq DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.Notification, error) {
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
