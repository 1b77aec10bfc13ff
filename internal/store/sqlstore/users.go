package sqlstore

import (
	"context"
	"strings"

	"github.com/dissent-channel/dissent/internal/store"
)

const userColumns = `id, username, display_name, email, roles, eligible, disabled, created_at, password,
	box_public, sign_public, keys_sealed, keys_recovery, key_state, session_epoch, mail_since, version, keys_anchor, keys_confirmed`

func scanUser(r interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	var roles string
	var eligible, disabled int
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Email, &roles, &eligible, &disabled, &u.CreatedAt, &u.Password,
		&u.BoxPublic, &u.SignPublic, &u.KeysSealed, &u.KeysRecovery, &u.KeyState, &u.SessionEpoch, &u.MailSince, &u.Version, &u.KeysAnchor, &u.KeysConfirmed)
	if err != nil {
		return nil, err
	}
	u.Roles = strings.Fields(roles)
	u.Eligible, u.Disabled = eligible == 1, disabled == 1
	return &u, nil
}

// CreateUser inserts u; a taken username is store.ErrConflict.
func (t *Tx) CreateUser(ctx context.Context, u *store.User) error {
	u.Version = 1
	_, err := t.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.DisplayName, u.Email, strings.Join(u.Roles, " "), b2i(u.Eligible), b2i(u.Disabled), u.CreatedAt, u.Password,
		u.BoxPublic, u.SignPublic, u.KeysSealed, u.KeysRecovery, u.KeyState, u.SessionEpoch, u.MailSince, u.Version, u.KeysAnchor, u.KeysConfirmed)
	return err
}

// UpdateUser writes u if nobody changed it since it was read.
func (t *Tx) UpdateUser(ctx context.Context, u *store.User) error {
	err := t.execOne(ctx, store.ErrConflict, `UPDATE users SET display_name = ?, email = ?, roles = ?, eligible = ?, disabled = ?,
		password = ?, box_public = ?, sign_public = ?, keys_sealed = ?, keys_recovery = ?, key_state = ?, session_epoch = ?,
		mail_since = ?, keys_anchor = ?, keys_confirmed = ?, version = version + 1 WHERE id = ? AND version = ?`,
		u.DisplayName, u.Email, strings.Join(u.Roles, " "), b2i(u.Eligible), b2i(u.Disabled),
		u.Password, u.BoxPublic, u.SignPublic, u.KeysSealed, u.KeysRecovery, u.KeyState, u.SessionEpoch,
		u.MailSince, u.KeysAnchor, u.KeysConfirmed, u.ID, u.Version)
	if err == nil {
		u.Version++
	}
	return err
}

// UserByID returns one user.
func (t *Tx) UserByID(ctx context.Context, id string) (*store.User, error) {
	u, err := scanUser(t.row(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, scanErr(err)
}

// UsersWithoutAnchor returns the users with keys and no anchor.
func (t *Tx) UsersWithoutAnchor(ctx context.Context) ([]*store.User, error) {
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users WHERE keys_anchor < 0 AND box_public <> '' ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.User, error) { return scanUser(r) })
}

// UsersAwaitingConfirmation returns the users whose keys await the
// office's confirmation, by username.
func (t *Tx) UsersAwaitingConfirmation(ctx context.Context) ([]*store.User, error) {
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users WHERE keys_confirmed = ? AND disabled = 0 ORDER BY username`, store.KeysAwaitConfirmation)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.User, error) { return scanUser(r) })
}

// UsersWithRole returns the users who are not disabled and hold role, by
// username. Roles are stored separated by single spaces.
func (t *Tx) UsersWithRole(ctx context.Context, role string) ([]*store.User, error) {
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users WHERE ' ' || roles || ' ' LIKE ? AND disabled = 0 ORDER BY username`, "% "+role+" %")
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.User, error) { return scanUser(r) })
}

// UserByUsername returns one user.
func (t *Tx) UserByUsername(ctx context.Context, username string) (*store.User, error) {
	u, err := scanUser(t.row(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	return u, scanErr(err)
}

// UsersByUsernames returns the users in the order named.
func (t *Tx) UsersByUsernames(ctx context.Context, usernames []string) ([]*store.User, error) {
	return t.usersBy(ctx, "username", usernames, func(u *store.User) string { return u.Username })
}

// UsersByIDs returns the users in the order named.
func (t *Tx) UsersByIDs(ctx context.Context, ids []string) ([]*store.User, error) {
	return t.usersBy(ctx, "id", ids, func(u *store.User) string { return u.ID })
}

func (t *Tx) usersBy(ctx context.Context, column string, keys []string, key func(*store.User) string) ([]*store.User, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	in, args := inList(keys)
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, func(r Rows) (*store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, err
	}
	return inOrder(keys, found, key)
}

// inOrder returns, for each key asked, the row found under it (a key asked
// twice gets it twice), or store.ErrNotFound if any has none.
func inOrder[T any](keys []string, found []T, key func(T) string) ([]T, error) {
	byKey := make(map[string]T, len(found))
	for _, f := range found {
		byKey[key(f)] = f
	}
	out := make([]T, len(keys))
	for i, k := range keys {
		f, ok := byKey[k]
		if !ok {
			return nil, store.ErrNotFound
		}
		out[i] = f
	}
	return out, nil
}

// UserNames returns the names of the users with these ids.
func (t *Tx) UserNames(ctx context.Context, ids []string) (map[string]store.UserName, error) {
	out := make(map[string]store.UserName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	rows, err := t.query(ctx, `SELECT id, username, display_name FROM users WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n store.UserName
		if err := rows.Scan(&id, &n.Username, &n.DisplayName); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// SignKeys returns the signing keys of the users with these ids.
func (t *Tx) SignKeys(ctx context.Context, ids []string) ([]store.SignKey, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inList(ids)
	rows, err := t.query(ctx, `SELECT id, username, sign_public FROM users WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	found, err := collect(rows, func(r Rows) (store.SignKey, error) {
		var k store.SignKey
		return k, r.Scan(&k.UserID, &k.Username, &k.Public)
	})
	if err != nil {
		return nil, err
	}
	return inOrder(ids, found, func(k store.SignKey) string { return k.UserID })
}

// ListUsers searches the directory.
func (t *Tx) ListUsers(ctx context.Context, q, after string, limit int) ([]*store.User, error) {
	like := "%" + escapeLike(strings.ToLower(q)) + "%"
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users
		WHERE (LOWER(username) LIKE ? ESCAPE '\' OR LOWER(display_name) LIKE ? ESCAPE '\') AND username > ?
		ORDER BY username LIMIT ?`, like, like, after, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Rows) (*store.User, error) { return scanUser(r) })
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CountUsers counts every account.
func (t *Tx) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := t.row(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, scanErr(err)
}
