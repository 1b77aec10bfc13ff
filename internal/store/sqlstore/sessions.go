package sqlstore

import (
	"context"

	"github.com/dissent-channel/dissent/internal/store"
)

// CreateSession stores a session.
func (t *Tx) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := t.exec(ctx, `INSERT INTO sessions (id, sealed, expires_at, idle_until) VALUES (?, ?, ?, ?)`,
		s.ID, s.Sealed, s.ExpiresAt, s.IdleUntil)
	return err
}

// SessionByID returns a session by the hash of its token.
func (t *Tx) SessionByID(ctx context.Context, id []byte) (*store.Session, error) {
	var s store.Session
	err := t.row(ctx, `SELECT id, sealed, expires_at, idle_until FROM sessions WHERE id = ?`, id).
		Scan(&s.ID, &s.Sealed, &s.ExpiresAt, &s.IdleUntil)
	return &s, scanErr(err)
}

// TouchSession extends a session's idle deadline.
func (t *Tx) TouchSession(ctx context.Context, id []byte, idleUntil int64) error {
	return t.execOne(ctx, store.ErrNotFound, `UPDATE sessions SET idle_until = ? WHERE id = ?`, idleUntil, id)
}

// DeleteSession signs a session out.
func (t *Tx) DeleteSession(ctx context.Context, id []byte) error {
	return t.execOne(ctx, store.ErrNotFound, `DELETE FROM sessions WHERE id = ?`, id)
}

// DeleteExpiredSessions removes sessions past either deadline.
func (t *Tx) DeleteExpiredSessions(ctx context.Context, now int64) (int, error) {
	r, err := t.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR idle_until <= ?`, now, now)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// Setting returns a named value.
func (t *Tx) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := t.row(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, scanErr(err)
}

// Settings returns several named values at once.
func (t *Tx) Settings(ctx context.Context, names ...string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(names))
	if len(names) == 0 {
		return out, nil
	}
	st := settingsStmt(names)
	rows, err := t.query(ctx, st.Query, st.Args...)
	if err != nil {
		return nil, err
	}
	_, err = collect(rows, func(r Rows) (struct{}, error) {
		var name string
		var v []byte
		err := r.Scan(&name, &v)
		out[name] = v
		return struct{}{}, err
	})
	return out, err
}

// settingsStmt reads the named settings (Settings, ReadAhead).
func settingsStmt(names []string) Stmt {
	in, args := inList(names)
	return Stmt{`SELECT name, value FROM settings WHERE name IN (` + in + `)`, args}
}

// PutSetting sets a named value.
func (t *Tx) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := t.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// PutGroupKey stores or replaces a member's wrap of a group key.
func (t *Tx) PutGroupKey(ctx context.Context, g *store.GroupKey) error {
	_, err := t.exec(ctx, `INSERT INTO group_keys (grp, user_id, wrapped, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (grp, user_id) DO UPDATE SET wrapped = excluded.wrapped, granted_by = excluded.granted_by, granted_at = excluded.granted_at`,
		g.Group, g.UserID, g.Wrapped, g.GrantedBy, g.GrantedAt)
	return err
}

func scanGroupKey(r interface{ Scan(...any) error }) (*store.GroupKey, error) {
	var g store.GroupKey
	err := r.Scan(&g.Group, &g.UserID, &g.Wrapped, &g.GrantedBy, &g.GrantedAt)
	return &g, err
}

// GroupKey returns one member's wrap.
func (t *Tx) GroupKey(ctx context.Context, group, userID string) (*store.GroupKey, error) {
	g, err := scanGroupKey(t.row(ctx, `SELECT grp, user_id, wrapped, granted_by, granted_at FROM group_keys WHERE grp = ? AND user_id = ?`, group, userID))
	return g, scanErr(err)
}

// GroupKeys lists a group's members' wraps.
func (t *Tx) GroupKeys(ctx context.Context, group string) ([]*store.GroupKey, error) {
	rows, err := t.query(ctx, `SELECT grp, user_id, wrapped, granted_by, granted_at FROM group_keys WHERE grp = ? ORDER BY granted_at, user_id`, group)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.GroupKey, error) { return scanGroupKey(r) })
}

// GroupMembers returns the users who hold a wrap of the group's key.
func (t *Tx) GroupMembers(ctx context.Context, group string) ([]*store.User, error) {
	rows, err := t.query(ctx, sqlGroupMembers, group)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.User, error) { return scanUser(r) })
}

// DeleteGroupKey removes a member from a group.
func (t *Tx) DeleteGroupKey(ctx context.Context, group, userID string) error {
	return t.execOne(ctx, store.ErrNotFound, `DELETE FROM group_keys WHERE grp = ? AND user_id = ?`, group, userID)
}
