package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
)

// t0 is a time with microseconds in it, so that truncation to milliseconds
// or seconds anywhere would show.
var t0 = time.Date(2016, time.June, 19, 14, 30, 5, 123456000, time.UTC).UnixMicro()

// newUser returns a user with every field set.
func newUser(id, username, displayName string) *store.User {
	return &store.User{
		ID:           id,
		Username:     username,
		DisplayName:  displayName,
		Email:        username + "@example.org",
		Roles:        []string{"member", "principal"},
		Eligible:     true,
		CreatedAt:    t0,
		Password:     "$argon2id$v=19$m=65536,t=3,p=4$" + id,
		BoxPublic:    "age1" + id,
		SignPublic:   append([]byte{0xed, 0x25, 0x51, 0x9, 0x00}, id...), // each user's own
		KeysSealed:   []byte("keys sealed to the password of " + id),
		KeysRecovery: []byte("keys sealed to the recovery key for " + id),
		KeyState:     "active",
		KeysAnchor:   int64(len(id)) << 33, // any index, past 32 bits
		SessionEpoch: 3,
		MailSince:    t0 - 1,
	}
}

// newMemo returns a submitted memo with every field set.
func newMemo(id string) *store.Memo {
	return &store.Memo{
		ID:             id,
		State:          "submitted",
		Profile:        "state-2fam070",
		Revision:       2,
		KeyVersion:     1,
		CreatedAt:      t0,
		UpdatedAt:      t0 + 10,
		SubmittedAt:    t0 + 10,
		AcknowledgedAt: 0,
		AcknowledgeBy:  t0 + 2*86400e6,
		ReplyBy:        t0 + 30*86400e6,
		ReplyLatest:    t0 + 60*86400e6,
		DueAt:          t0 + 2*86400e6,
		CheckAt:        t0 + 86400e6,
		AuthorsCount:   51,
		Roster:         []byte("roster sealed to " + id),
		Receipt:        []byte(`{"memo":"` + id + `","revision":2}`),
	}
}

func createUsers(t testing.TB, s store.Store, users ...*store.User) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, u := range users {
			check(t, tx.CreateUser(ctx, u))
		}
	})
}

func createMemos(t testing.TB, s store.Store, memos ...*store.Memo) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, m := range memos {
			check(t, tx.CreateMemo(ctx, m))
		}
	})
}

// same reports a difference between got and want as a test error.
func same[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot  %+v\nwant %+v", what, got, want)
	}
}

// ids returns the IDs of users or memos, for comparing lists.
func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func userName(u *store.User) string { return u.Username }
func memoID(m *store.Memo) string   { return m.ID }
