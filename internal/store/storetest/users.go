package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

func testUsers(t *testing.T, s store.Store) {
	alice := newUser("u-alice", "alice", "Alice Archer")
	bob := newUser("u-bob", "bob", "Bob Brown")
	carol := newUser("u-carol", "carol", "Carol Clark")
	carol.Roles, carol.Eligible, carol.Disabled = []string{"office"}, false, true
	createUsers(t, s, alice, bob, carol)
	if alice.Version != 1 {
		t.Errorf("CreateUser set Version %d, want 1", alice.Version)
	}

	t.Run("lookups return what was created", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, want := range []*store.User{alice, bob, carol} {
				got, err := tx.UserByID(ctx, want.ID)
				check(t, err)
				same(t, "UserByID", got, want)
				got, err = tx.UserByUsername(ctx, want.Username)
				check(t, err)
				same(t, "UserByUsername", got, want)
			}
			n, err := tx.CountUsers(ctx)
			check(t, err)
			same(t, "CountUsers", n, 3)
		})
	})

	t.Run("users without an anchor", func(t *testing.T) {
		dave, erin, frank := newUser("u-dave", "dave", "Dave Dunn"), newUser("u-erin", "erin", "Erin Eve"), newUser("u-frank", "frank", "Frank Fey")
		dave.KeysAnchor, erin.KeysAnchor, erin.CreatedAt = -1, -1, t0-1
		frank.KeysAnchor, frank.BoxPublic, frank.KeyState = -1, "", "pending" // no keys to anchor
		createUsers(t, s, dave, erin, frank)
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UsersWithoutAnchor(ctx)
			check(t, err)
			same(t, "UsersWithoutAnchor, oldest first", got, []*store.User{erin, dave})
		})
		write(t, s, func(ctx context.Context, tx store.Tx) {
			dave.KeysAnchor = 7
			check(t, tx.UpdateUser(ctx, dave))
			check(t, tx.UpdateUser(ctx, erin))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UsersWithoutAnchor(ctx)
			check(t, err)
			same(t, "UsersWithoutAnchor after dave's was set", got, []*store.User{erin})
			d, err := tx.UserByID(ctx, dave.ID)
			check(t, err)
			same(t, "dave's anchor", d.KeysAnchor, int64(7))
		})
	})

	t.Run("users awaiting confirmation", func(t *testing.T) {
		gus, hal, ida := newUser("u-gus", "gus", "Gus Gale"), newUser("u-hal", "hal", "Hal Hart"), newUser("u-ida", "ida", "Ida Ives")
		gus.KeysConfirmed, hal.KeysConfirmed, ida.KeysConfirmed = store.KeysAwaitConfirmation, store.KeysAwaitConfirmation, store.KeysAwaitConfirmation
		ida.Disabled = true
		createUsers(t, s, hal, gus, ida)
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UsersAwaitingConfirmation(ctx)
			check(t, err)
			same(t, "UsersAwaitingConfirmation, by username, not the disabled", got, []*store.User{gus, hal})
		})
		write(t, s, func(ctx context.Context, tx store.Tx) {
			gus.KeysConfirmed = 9
			check(t, tx.UpdateUser(ctx, gus))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UsersAwaitingConfirmation(ctx)
			check(t, err)
			same(t, "UsersAwaitingConfirmation once gus's keys are confirmed", got, []*store.User{hal})
			g, err := tx.UserByID(ctx, gus.ID)
			check(t, err)
			same(t, "gus's confirmation", g.KeysConfirmed, int64(9))
		})
	})

	t.Run("users with a role", func(t *testing.T) {
		jo, kai, lee, max := newUser("u-jo", "jo", "Jo Jay"), newUser("u-kai", "kai", "Kai Kim"), newUser("u-lee", "lee", "Lee Low"), newUser("u-max", "max", "Max May")
		jo.Roles, kai.Roles, lee.Roles, max.Roles = []string{"member", "principal"}, []string{"principal"}, []string{"principal"}, []string{"principals-clerk", "member"}
		lee.Disabled = true
		createUsers(t, s, kai, jo, lee, max)
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UsersWithRole(ctx, "principal")
			check(t, err)
			var names []string
			for _, u := range got {
				names = append(names, u.Username)
			}
			// Other tests' users may hold the role too; these four are ours.
			names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains([]string{"jo", "kai", "lee", "max"}, n) })
			same(t, "UsersWithRole(principal): by username, whole roles only, not the disabled", names, []string{"jo", "kai"})
		})
	})

	t.Run("missing user is not found", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.UserByID(ctx, "u-nobody"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UserByID: %v, want ErrNotFound", err)
			}
			// Lookups are exact: no case folding.
			if _, err := tx.UserByUsername(ctx, "ALICE"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UserByUsername: %v, want ErrNotFound", err)
			}
		})
	})

	for _, c := range []struct {
		name string
		user *store.User
	}{
		{"duplicate username is a conflict", newUser("u-alice2", "alice", "Another Alice")},
		{"duplicate id is a conflict", newUser("u-alice", "alice2", "Another Alice")},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, c.user) })
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.UserByUsername(ctx, "alice")
				check(t, err)
				same(t, "the first alice", got, alice)
			})
		})
	}

	lookups := []struct {
		name    string
		by      func(store.Tx, context.Context, []string) ([]*store.User, error)
		keys    []string
		want    []string // usernames
		wantErr error
	}{
		{"by usernames in the order asked", store.Tx.UsersByUsernames,
			[]string{"carol", "alice", "bob"}, []string{"carol", "alice", "bob"}, nil},
		{"by usernames repeats a name asked twice", store.Tx.UsersByUsernames,
			[]string{"bob", "alice", "bob"}, []string{"bob", "alice", "bob"}, nil},
		{"by usernames with one missing is not found", store.Tx.UsersByUsernames,
			[]string{"alice", "mallory"}, nil, store.ErrNotFound},
		{"by usernames of none is empty", store.Tx.UsersByUsernames,
			nil, []string{}, nil},
		{"by ids in the order asked", store.Tx.UsersByIDs,
			[]string{"u-bob", "u-carol", "u-alice"}, []string{"bob", "carol", "alice"}, nil},
		{"by ids with one missing is not found", store.Tx.UsersByIDs,
			[]string{"u-bob", "u-mallory"}, nil, store.ErrNotFound},
	}
	for _, c := range lookups {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := c.by(tx, ctx, c.keys)
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("got error %v, want %v", err, c.wantErr)
				}
				if c.wantErr == nil {
					same(t, "users", ids(got, userName), c.want)
				}
				for _, u := range got {
					if u.Username == "carol" {
						same(t, "carol", u, carol)
					}
				}
			})
		})
	}

	t.Run("names of ids leave out the unknown ones", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UserNames(ctx, []string{"u-carol", "u-mallory", "u-alice", "u-carol"})
			check(t, err)
			same(t, "names", got, map[string]store.UserName{
				"u-carol": {Username: "carol", DisplayName: "Carol Clark"},
				"u-alice": {Username: "alice", DisplayName: "Alice Archer"},
			})
			got, err = tx.UserNames(ctx, nil)
			check(t, err)
			same(t, "names of none", got, map[string]store.UserName{})
		})
	})

	t.Run("signing keys of ids in the order asked", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.SignKeys(ctx, []string{"u-carol", "u-alice", "u-carol"})
			check(t, err)
			same(t, "keys", got, []store.SignKey{
				{UserID: "u-carol", Username: "carol", Public: carol.SignPublic},
				{UserID: "u-alice", Username: "alice", Public: alice.SignPublic},
				{UserID: "u-carol", Username: "carol", Public: carol.SignPublic},
			})
			if _, err := tx.SignKeys(ctx, []string{"u-alice", "u-mallory"}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("keys with one id unknown: %v, want ErrNotFound", err)
			}
			got, err = tx.SignKeys(ctx, nil)
			check(t, err)
			if len(got) != 0 {
				t.Fatalf("keys of none: %+v", got)
			}
		})
	})

	t.Run("update writes every field and bumps the version", func(t *testing.T) {
		var u *store.User
		write(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			u, err = tx.UserByID(ctx, bob.ID)
			check(t, err)
			u.DisplayName, u.Email = "Robert Brown", "robert@example.org"
			u.Roles, u.Eligible, u.Disabled = []string{"auditor"}, false, true
			u.Password, u.BoxPublic, u.SignPublic = "$argon2id$new", "age1new", []byte{1, 2, 3}
			u.KeysSealed, u.KeysRecovery, u.KeyState = []byte("new keys"), []byte("new recovery"), "reset"
			u.SessionEpoch, u.MailSince = 4, t0+99
			check(t, tx.UpdateUser(ctx, u))
		})
		same(t, "Version after update", u.Version, int64(2))
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UserByID(ctx, bob.ID)
			check(t, err)
			same(t, "updated user", got, u)
		})
	})

	t.Run("update at a stale version is a conflict and changes nothing", func(t *testing.T) {
		var before *store.User
		read(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			before, err = tx.UserByID(ctx, bob.ID)
			check(t, err)
		})
		stale := *before
		stale.Version--
		stale.DisplayName, stale.Roles = "Mallory", []string{"administrator"}
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &stale) })
		same(t, "Version of the refused update", stale.Version, before.Version-1)
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UserByID(ctx, bob.ID)
			check(t, err)
			same(t, "user after a refused update", got, before)
		})
	})
}

func testListUsers(t *testing.T, s store.Store) {
	createUsers(t, s,
		newUser("u1", "alice", "Alice Archer"),
		newUser("u2", "bob", "Bob Brown"),
		newUser("u3", "carol", "Carol 100% Sure"),
		newUser("u4", "dave_x", "Dave"),
		newUser("u5", "daveyx", "Davey"),
		newUser("u6", "erin", "ERIN UPPER"),
		newUser("u7", "frank", `Frank Back\slash`),
	)
	everyone := []string{"alice", "bob", "carol", "dave_x", "daveyx", "erin", "frank"}
	for _, c := range []struct {
		name     string
		q, after string
		limit    int
		want     []string
	}{
		{"empty query lists everyone by username", "", "", 100, everyone},
		{"matches a username ignoring case", "ALI", "", 100, []string{"alice"}},
		{"matches a display name ignoring case", "brown", "", 100, []string{"bob"}},
		{"matches an upper-case display name", "upper", "", 100, []string{"erin"}},
		{"percent matches only a percent", "%", "", 100, []string{"carol"}},
		{"underscore matches only an underscore", "e_x", "", 100, []string{"dave_x"}},
		{"backslash matches only a backslash", `\`, "", 100, []string{"frank"}},
		{"after starts past that username", "", "carol", 100, []string{"dave_x", "daveyx", "erin", "frank"}},
		{"after applies with a query", "dave", "dave_x", 100, []string{"daveyx"}},
		{"limit cuts the page", "", "", 2, []string{"alice", "bob"}},
		{"no match is empty", "zed", "", 100, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.ListUsers(ctx, c.q, c.after, c.limit)
				check(t, err)
				same(t, "ListUsers", ids(got, userName), c.want)
			})
		})
	}

	t.Run("pages by after cover everyone once", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			all := []string{}
			after := ""
			for range len(everyone) + 1 {
				page, err := tx.ListUsers(ctx, "", after, 3)
				check(t, err)
				if len(page) == 0 {
					break
				}
				all = append(all, ids(page, userName)...)
				after = page[len(page)-1].Username
			}
			same(t, "pages", all, everyone)
		})
	})
}
