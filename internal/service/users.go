package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// NewUser is an account to create.
type NewUser struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Email       string   `json:"email"`
	Password    string   `json:"password"`
	Roles       []string `json:"roles"`
	Eligible    bool     `json:"eligible"`
}

// User is an account as others may see it.
type User struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Email       string   `json:"email,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Eligible    *bool    `json:"eligible,omitempty"`
	Disabled    bool     `json:"disabled,omitempty"`
	KeyState    string   `json:"key_state,omitempty"`
	// OfficeAccess is, for office members, "granted"; "pending" until a
	// current member grants it; or "unfounded" until the recovery
	// custodians found the office with its first member (FoundOffice).
	OfficeAccess string `json:"office_access,omitempty"`
	// KeysFingerprint names the caller's own public keys (Me only): the
	// office reads it back to them before it confirms keys made again.
	KeysFingerprint string `json:"keys_fingerprint,omitempty"`
	// KeysMadeAt is when the caller's keys were made (Me only), from the
	// ledger entry that anchors them: a person who finds a time before
	// they first chose their own password learns that someone else chose
	// one first, and made the keys under it.
	KeysMadeAt *time.Time `json:"keys_made_at,omitempty"`
	// KeysAwaitingConfirmation says the caller's keys were made again and
	// the office has not confirmed them yet (Me only): until it does, the
	// caller cannot sign, invite or submit, and nobody wraps to them.
	KeysAwaitingConfirmation bool `json:"keys_awaiting_confirmation,omitempty"`
	// DistributionAwaitsConfirmation says the caller is a principal whose
	// keys the office has not confirmed as a principal's (Me only): the
	// distribution and the office pass them by until it does, and what was
	// withheld reaches them when it does.
	DistributionAwaitsConfirmation bool `json:"distribution_awaits_confirmation,omitempty"`
}

func fullUser(u *store.User) *User {
	el := u.Eligible
	return &User{Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Roles: u.Roles, Eligible: &el, Disabled: u.Disabled, KeyState: u.KeyState}
}

func (n *NewUser) validate() error {
	if err := channel.ValidateUsername("username", n.Username); err != nil {
		return err
	}
	if err := channel.ValidateLine("display_name", n.DisplayName, channel.MaxDisplayName); err != nil {
		return err
	}
	if err := channel.ValidateEmail("email", n.Email); err != nil {
		return err
	}
	if err := channel.ValidatePassword("password", n.Password); err != nil {
		return err
	}
	roles := make([]channel.Role, len(n.Roles))
	for i, r := range n.Roles {
		roles[i] = channel.Role(r)
	}
	return channel.ValidateRoles("roles", roles)
}

// Setup is the deployment's first key material, made once by `dissent init`.
type Setup struct {
	Admin NewUser
	// Custodians hold shares of the recovery key; Threshold of them
	// together can restore a user's keys after a password reset.
	Custodians []string
	Threshold  int
	// LedgerVKey is the public key checkpoints are verified with.
	LedgerVKey string
}

// Init sets up an empty deployment: the recovery key (returned as shares,
// and never stored whole), the ledger's public key and the first
// administrator. It fails if anyone has an account already.
func (s *Service) Init(ctx context.Context, setup Setup) ([]vault.Share, error) {
	if err := setup.Admin.validate(); err != nil {
		return nil, err
	}
	if !slices.Contains(setup.Admin.Roles, string(channel.RoleAdmin)) {
		return nil, channel.Invalid("roles", "the first user must be an administrator")
	}
	if len(setup.Custodians) < 2 || setup.Threshold < 2 || setup.Threshold > len(setup.Custodians) {
		return nil, channel.Invalid("custodians", "name at least two recovery custodians and a threshold of at least 2 and at most their number: one custodian alone must never be able to restore anyone's keys")
	}
	recovery, err := vault.NewIdentity()
	if err != nil {
		return nil, err
	}
	shares, err := vault.SplitIdentity(recovery, setup.Custodians, setup.Threshold)
	if err != nil {
		return nil, err
	}
	prepared, err := s.prepareUser(ctx, setup.Admin, recovery.Public().Box, true)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		n, err := tx.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return channel.Errorf(channel.ECONFLICT, "this deployment is already set up")
		}
		if err := tx.PutSetting(ctx, settingRecovery, []byte(recovery.Public().Box)); err != nil {
			return err
		}
		if err := s.anchorRecovery(ctx, tx, recovery.Public().Box); err != nil {
			return err
		}
		if err := tx.PutSetting(ctx, settingLedgerVKey, []byte(setup.LedgerVKey)); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, event{action: "deployment.init"}); err != nil {
			return err
		}
		if err := s.insertUser(ctx, tx, nil, prepared); err != nil {
			return err
		}
		_, err = s.checkpoint(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return shares, nil
}

// preparedUser is a new account with its keys made, ready to insert. The
// expensive work (argon2id, key generation) happens before the transaction
// so that it never holds the writer lock.
type preparedUser struct {
	rec *store.User
	id  *vault.Identity
}

// prepareUser makes the account n. With keys (the first administrator,
// who types their own password) its keys are made now; without, the
// password is one an administrator chose for someone else, and the keys
// wait for the user's own (keysPending).
func (s *Service) prepareUser(ctx context.Context, n NewUser, recoveryBox string, withKeys bool) (*preparedUser, error) {
	stored, kek, err := s.hashPassword(ctx, n.Password)
	if err != nil {
		return nil, err
	}
	u := &store.User{
		ID: newID(), Username: n.Username, DisplayName: n.DisplayName, Email: n.Email, Roles: n.Roles,
		Eligible: n.Eligible, CreatedAt: micros(s.now()), Password: stored, KeyState: keysPending,
		SignPublic: []byte{}, KeysSealed: []byte{}, KeysRecovery: []byte{},
	}
	if !withKeys {
		return &preparedUser{rec: u}, nil
	}
	id, err := makeKeys(u, kek, recoveryBox)
	return &preparedUser{rec: u, id: id}, err
}

// makeKeys gives u a new identity sealed under kek and, for the recovery
// custodians, to the recovery key.
func makeKeys(u *store.User, kek vault.Key, recoveryBox string) (*vault.Identity, error) {
	id, err := vault.NewIdentity()
	if err != nil {
		return nil, err
	}
	if u.KeysRecovery, err = vault.SealIdentityTo(recoveryBox, u.ID, id); err != nil {
		return nil, err
	}
	u.KeysSealed, u.KeyState = vault.SealIdentity(kek, u.ID, id), keysActive
	u.BoxPublic, u.SignPublic = id.Public().Box, id.Public().Sign
	return id, nil
}

// insertUser stores a prepared account. An office member gets no office
// key by it: the custodians found the office (FoundOffice), and later
// members wait for a grant by a current one, so that an administrator
// cannot let themselves in by assigning a role.
//
// An account made with keys has them anchored by its user.create entry,
// and the caller signs a checkpoint before the transaction ends.
func (s *Service) insertUser(ctx context.Context, tx store.Tx, by *Actor, p *preparedUser) error {
	ev := event{action: "user.create", actor: by, role: roleOf(by), subject: p.rec.ID}
	p.rec.KeysAnchor, p.rec.KeysConfirmed = -1, -1
	if p.rec.KeyState == keysActive {
		if err := s.anchorUser(ctx, tx, p.rec, ev); err != nil {
			return err
		}
	}
	if err := tx.CreateUser(ctx, p.rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return channel.Invalid("username", "the username %q is taken", p.rec.Username)
		}
		return err
	}
	if p.rec.KeyState != keysActive {
		return s.audit(ctx, tx, ev)
	}
	return nil
}

func roleOf(a *Actor) string {
	if a == nil {
		return ""
	}
	return primaryRole(a)
}

// CreateUser makes an account (administrators only).
func (s *Service) CreateUser(ctx context.Context, a *Actor, n NewUser) (*User, error) {
	if !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only an administrator may create accounts")
	}
	if err := n.validate(); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		if _, err := tx.UserByUsername(ctx, n.Username); err == nil {
			return channel.Invalid("username", "the username %q is taken", n.Username)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Without keys: they wait for the user's own password, and are sealed
	// to the recovery key then.
	p, err := s.prepareUser(ctx, n, "", false)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		if err := s.insertUser(ctx, tx, a, p); err != nil {
			return err
		}
		// The person learns that the account exists, and what its first
		// sign-in must look like, from the deployment rather than from
		// the administrator who gives them its password.
		return s.accountNotice(ctx, tx, p.rec, KindAccountCreated, p.rec.Email)
	})
	if err != nil {
		return nil, err
	}
	return fullUser(p.rec), nil
}

// UserPage is a page of the directory.
type UserPage struct {
	Items      []*User `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// Directory searches users by username or display name. Anyone signed in
// may search it; it shows usernames and display names only (an
// administrator also sees roles and state).
func (s *Service) Directory(ctx context.Context, a *Actor, q, cursor string, limit int) (*UserPage, error) {
	if err := channel.ValidateLine("q", q+"x", 100); err != nil {
		return nil, err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	page := &UserPage{Items: []*User{}}
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		us, err := tx.ListUsers(ctx, q, after.ID, limit+1)
		if err != nil {
			return err
		}
		for i, u := range us {
			if i == limit {
				page.NextCursor = encodeCursor(pageCursor{ID: us[i-1].Username})
				break
			}
			if a.Has(channel.RoleAdmin) {
				page.Items = append(page.Items, fullUser(u))
			} else {
				page.Items = append(page.Items, &User{Username: u.Username, DisplayName: u.DisplayName})
			}
		}
		return nil
	})
	return page, err
}

// Account returns the account named username, as the directory shows it
// to an administrator (the only ones who may ask).
func (s *Service) Account(ctx context.Context, a *Actor, username string) (*User, error) {
	if !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only administrators see accounts")
	}
	if channel.ValidateUsername("username", username) != nil {
		return nil, channel.ErrNotFound
	}
	var out *User
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return storeErr(err, "the account")
		}
		out = fullUser(u)
		return nil
	})
	return out, err
}

// DirectoryNamed is Directory for exact usernames, as a form that names
// people shows them: those of usernames who have an account, each by the
// directory's name, in the order asked; the others are left out. One
// indexed lookup a name, at most channel.MaxUsernames+1 of them, where a
// search for each would scan the directory.
func (s *Service) DirectoryNamed(ctx context.Context, a *Actor, usernames []string) ([]User, error) {
	if len(usernames) > channel.MaxUsernames+1 {
		return nil, channel.Invalid("usernames", "at most %d names", channel.MaxUsernames)
	}
	var out []User
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		for _, name := range usernames {
			if channel.ValidateUsername("username", name) != nil {
				continue
			}
			u, err := tx.UserByUsername(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, User{Username: u.Username, DisplayName: u.DisplayName})
		}
		return nil
	})
	return out, err
}

// Me describes the signed-in user.
func (s *Service) Me(ctx context.Context, a *Actor) (*User, error) {
	u := fullUser(a.User)
	active, office := a.User.KeyState == keysActive, a.Has(channel.RoleOffice)
	if !active && !office {
		return u, nil
	}
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		if active {
			u.KeysFingerprint = keysFingerprint(a.User)
			held, err := s.keysHeld(ctx, tx, a.User)
			if err != nil {
				return err
			}
			// keysHeld proved the anchor; it is in a checkpoint unless
			// another node wrote it a moment ago.
			if l, _, problem, err := s.checkpointedEntry(ctx, tx, a.User.KeysAnchor); err != nil {
				return err
			} else if problem == "" {
				u.KeysMadeAt = &l.Time
			}
			u.KeysAwaitingConfirmation = held
			if !held && a.Has(channel.RolePrincipal) {
				awaits, principal, err := s.awaitsConfirmation(ctx, tx, a.User)
				if err != nil {
					return err
				}
				u.DistributionAwaitsConfirmation = awaits && principal
			}
		}
		if !office {
			return nil
		}
		_, err := tx.GroupKey(ctx, officeGroup, a.User.ID)
		switch {
		case err == nil:
			u.OfficeAccess = "granted"
		case !errors.Is(err, store.ErrNotFound):
			return err
		default:
			founded, err := s.officeFounded(ctx, tx)
			if err != nil {
				return err
			}
			u.OfficeAccess = "pending"
			if !founded {
				u.OfficeAccess = "unfounded"
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Distribution is the standing distribution: the principals every
// submitted memo reaches.
type Distribution struct {
	Usernames []string `json:"usernames"`
	// AwaitingConfirmation names those of them whose keys the channel
	// office has not confirmed (in responses only): memos pass them by
	// until it does, and reach them when it does.
	AwaitingConfirmation []string `json:"awaiting_confirmation,omitempty"`
}

// GetDistribution returns the standing distribution (administrators).
func (s *Service) GetDistribution(ctx context.Context, a *Actor) (*Distribution, error) {
	if !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only an administrator manages the distribution")
	}
	var d *Distribution
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		us, err := standingDistribution(ctx, tx)
		if err != nil {
			return err
		}
		d, _, err = s.describeDistribution(ctx, tx, us)
		return err
	})
	return d, err
}

// describeDistribution names the principals of a distribution and those
// among them whose keys await the office's confirmation, held.
func (s *Service) describeDistribution(ctx context.Context, tx store.Tx, us []*store.User) (d *Distribution, held []*store.User, err error) {
	d = &Distribution{Usernames: []string{}}
	for _, u := range us {
		d.Usernames = append(d.Usernames, u.Username)
	}
	held, err = s.heldPrincipals(ctx, tx, us)
	for _, u := range held {
		d.AwaitingConfirmation = append(d.AwaitingConfirmation, u.Username)
	}
	return d, held, err
}

func standingDistribution(ctx context.Context, tx store.Tx) ([]*store.User, error) {
	raw, err := setting(ctx, tx, settingDistribution, []byte("[]"))
	if err != nil {
		return nil, err
	}
	return distributionUsers(ctx, tx, raw)
}

// distributionUsers are the users of a distribution setting's value.
func distributionUsers(ctx context.Context, tx store.Tx, raw []byte) ([]*store.User, error) {
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, errInternal("distribution setting: %w", err)
	}
	return tx.UsersByIDs(ctx, ids)
}

// SetDistribution replaces the standing distribution. It applies to memos
// submitted afterwards and is an audited event. A principal whose keys the
// channel office has not confirmed is on it, but memos pass them by until
// the office confirms them with the person (principalHeld), and the
// office's members are told of each one newly put on it.
func (s *Service) SetDistribution(ctx context.Context, a *Actor, d Distribution) (*Distribution, error) {
	if !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only an administrator manages the distribution")
	}
	if err := channel.ValidateUsernames("usernames", d.Usernames, true); err != nil {
		return nil, err
	}
	var out *Distribution
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		us, err := tx.UsersByUsernames(ctx, d.Usernames)
		if errors.Is(err, store.ErrNotFound) {
			return channel.Invalid("usernames", "every name must be an existing user")
		} else if err != nil {
			return err
		}
		ids := make([]string, len(us))
		for i, u := range us {
			if !slices.Contains(u.Roles, string(channel.RolePrincipal)) || u.Disabled {
				return channel.Invalid("usernames", "%q is not an active principal", u.Username)
			}
			if hasRole(u, channel.RoleAdmin) {
				return channel.Invalid("usernames", "%q is an administrator, and administrators must never read a memo", u.Username)
			}
			// Memos submitted meanwhile would pass them by, unseen.
			if u.KeyState == keysPending {
				return channel.Invalid("usernames", "%q cannot be on the standing distribution until %s", u.Username, notActive(u))
			}
			ids[i] = u.ID
		}
		// The event first: it takes the ledger's lock, which another
		// node's change of the distribution takes too, so the list read
		// next is the one this change replaces, and the office is told
		// only of the principals it adds.
		if err := s.audit(ctx, tx, event{action: "config.distribution", actor: a, role: string(channel.RoleAdmin)}); err != nil {
			return err
		}
		before, err := standingDistribution(ctx, tx)
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(ids)
		if err := tx.PutSetting(ctx, settingDistribution, raw); err != nil {
			return err
		}
		var held []*store.User
		if out, held, err = s.describeDistribution(ctx, tx, us); err != nil {
			return err
		}
		return s.tellOfficeOfPrincipals(ctx, tx, held, before)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tellOfficeOfPrincipals tells the office's members that principals whose
// keys await them, held, were put on the standing distribution, unless
// all were on it before.
func (s *Service) tellOfficeOfPrincipals(ctx context.Context, tx store.Tx, held, before []*store.User) error {
	added := slices.DeleteFunc(held, func(u *store.User) bool {
		return slices.ContainsFunc(before, func(b *store.User) bool { return b.ID == u.ID })
	})
	if len(added) == 0 {
		return nil
	}
	return s.tellOfficeKeysAwait(ctx, tx, added)
}

// UserUpdate changes an account (administrators). Nil fields stay.
type UserUpdate struct {
	DisplayName *string   `json:"display_name"`
	Email       *string   `json:"email"`
	Roles       *[]string `json:"roles"`
	Eligible    *bool     `json:"eligible"`
	Disabled    *bool     `json:"disabled"`
}

// UpdateUser changes roles, eligibility or state. Taking the office role
// away also takes the office key away; disabling ends every session.
func (s *Service) UpdateUser(ctx context.Context, a *Actor, username string, up UserUpdate) (*User, error) {
	if !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only an administrator may change accounts")
	}
	if up.DisplayName != nil {
		if err := channel.ValidateLine("display_name", *up.DisplayName, channel.MaxDisplayName); err != nil {
			return nil, err
		}
	}
	if up.Email != nil {
		if err := channel.ValidateEmail("email", *up.Email); err != nil {
			return nil, err
		}
	}
	if up.Roles != nil {
		roles := make([]channel.Role, len(*up.Roles))
		for i, r := range *up.Roles {
			roles[i] = channel.Role(r)
		}
		if err := channel.ValidateRoles("roles", roles); err != nil {
			return nil, err
		}
	}
	var out *User
	var changed string // the account whose display name may have changed
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		if err := lockLedger(ctx, tx); err != nil {
			return err
		}
		if err := bumpAccounts(ctx, tx); err != nil {
			return err
		}
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return storeErr(err, "the account")
		}
		if u.ID == a.User.ID && (up.Disabled != nil && *up.Disabled || up.Roles != nil && !slices.Contains(*up.Roles, string(channel.RoleAdmin))) {
			return channel.Errorf(channel.EINVALID, "you cannot disable yourself or take away your own administrator role")
		}
		hadOffice, oldEmail := slices.Contains(u.Roles, string(channel.RoleOffice)), u.Email
		wasPrincipal, wasAdmin := hasRole(u, channel.RolePrincipal), hasRole(u, channel.RoleAdmin)
		if up.DisplayName != nil {
			u.DisplayName = *up.DisplayName
		}
		if up.Email != nil {
			u.Email = *up.Email
		}
		if up.Roles != nil {
			u.Roles = *up.Roles
		}
		if up.Eligible != nil {
			u.Eligible = *up.Eligible
		}
		if up.Disabled != nil {
			u.Disabled = *up.Disabled
			if u.Disabled {
				u.SessionEpoch++
			}
		}
		// Made a principal (again): the office confirms the account as one
		// anew. A confirmation of its keys as a principal's from before
		// (an account that was a principal, then an administrator) is set
		// aside; one of keys alone never counted for a principal and stays,
		// so the account may go on acting.
		becomesPrincipal := !wasPrincipal && hasRole(u, channel.RolePrincipal) && u.KeyState == keysActive
		if becomesPrincipal {
			if asPrincipal, err := s.keysConfirmed(ctx, tx, u, true); err != nil {
				return err
			} else if asPrincipal {
				u.KeysConfirmed = store.KeysAwaitConfirmation
			}
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return storeErr(err, "the account")
		}
		if becomesPrincipal {
			if err := s.tellOfficeKeysAwait(ctx, tx, []*store.User{u}); err != nil {
				return err
			}
		}
		if u.Email != oldEmail {
			if err := s.accountNotice(ctx, tx, u, KindEmailChanged, oldEmail); err != nil {
				return err
			}
		}
		if hadOffice && !slices.Contains(u.Roles, string(channel.RoleOffice)) {
			if err := tx.DeleteGroupKey(ctx, officeGroup, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		// An administrator holds no key to a memo: the wraps it was given
		// as a principal go, or its own password and a copy of the
		// database would open them. Made a principal again, it is shared
		// with again like any reader.
		if !wasAdmin && hasRole(u, channel.RoleAdmin) {
			if err := tx.DeleteAccessOf(ctx, u.ID); err != nil {
				return err
			}
		}
		out, changed = fullUser(u), u.ID
		return s.audit(ctx, tx, event{action: "user.update", actor: a, role: string(channel.RoleAdmin), subject: u.ID})
	})
	if changed != "" {
		s.names.forget(changed)
	}
	return out, err
}

// lockLedger takes the ledger's lock, which every audited write takes
// when it records its event, at the start of a transaction that changes
// an account: so that a memo's step on another node that read the account
// before, and wraps or mails a key to it, either commits before this
// transaction reads the account, or finds it changed when it checks it
// again under the lock (accountsUnchanged; a submission, by
// settingAccounts, which the change moves: bumpAccounts). Without it, an office grant
// could wrap the office's key to an account made an administrator in
// between, after that change had found no key to take.
func lockLedger(ctx context.Context, tx store.Tx) error {
	_, err := tx.LedgerStorage("", "").LockedSize(ctx)
	return err
}

// GrantOffice lets a new office member in: a current member wraps the
// office's group key to them. An administrator cannot do this.
func (s *Service) GrantOffice(ctx context.Context, a *Actor, username string) error {
	return s.inTx(ctx, true, func(tx store.Tx) error {
		office, err := s.officeIdentity(ctx, tx, a)
		if err != nil {
			return err
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "let anyone into the office"); err != nil {
			return err
		}
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return storeErr(err, "the account")
		}
		if !slices.Contains(u.Roles, string(channel.RoleOffice)) {
			return channel.Invalid("username", "%q is not a member of the channel office", username)
		}
		if hasRole(u, channel.RoleAdmin) {
			return channel.Invalid("username", "%q is an administrator, and administrators must never hold the office's key", username)
		}
		if u.Disabled || u.KeyState != keysActive {
			return channel.Invalid("username", "%q cannot be let in until %s", username, notActive(u))
		}
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return err
		} else if held {
			return errAwaitingConfirmation("username", username)
		}
		wrapped, err := vault.SealTo(u.BoxPublic, office.Marshal())
		if err != nil {
			return err
		}
		if err := tx.PutGroupKey(ctx, &store.GroupKey{Group: officeGroup, UserID: u.ID, Wrapped: wrapped, GrantedBy: a.User.ID, GrantedAt: micros(s.now())}); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, event{action: "office.grant", actor: a, role: string(channel.RoleOffice), subject: u.ID}); err != nil {
			return err
		}
		return s.accountsUnchanged(ctx, tx, []*store.User{u})
	})
}
