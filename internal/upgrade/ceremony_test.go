package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestCeremonyRefusesKeysAnchoredAtTheUpgrade (review: helper-26): release one made
// an account's keys when the administrator created it, under the password
// the administrator chose (OPERATIONS, "Accounts made before the
// first-password change"). The upgrade anchors those keys with a
// user.keys_anchored entry dated at the upgrade. The ceremony's one-hour
// window read that entry's time as "when the keys were made", so within
// an hour of the upgrade (or of a restore of an old snapshot) the
// custodians handed the office's key to keys an administrator made months
// before. Only keys made at a first sign-in (user.new_keys) now pass.
func TestCeremonyRefusesKeysAnchoredAtTheUpgrade(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	copyDir(t, "testdata/release1", data)
	cfg, err := config.Load(data, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	svc := anchoredService(t, cfg, true)
	as := func(u string) *service.Actor {
		tok, _, err := svc.SignIn(ctx, u, u+"-password-1")
		if err != nil {
			t.Fatal(err)
		}
		a, err := svc.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// alice's keys were made in release one when the administrator created
	// her account, under "alice-password-1", which the administrator chose.
	if _, err := svc.UpdateUser(ctx, as("admin"), "alice", service.UserUpdate{Roles: &[]string{"office"}}); err != nil {
		t.Fatal(err)
	}
	me, err := svc.Me(ctx, as("alice"))
	if err != nil {
		t.Fatal(err)
	}
	var shares []vault.Share
	for _, f := range []string{"custodian-1.txt", "custodian-2.txt"} {
		b, err := os.ReadFile(filepath.Join(data, "recovery-shares", f))
		if err != nil {
			t.Fatal(err)
		}
		sh, err := vault.ParseShare(string(b))
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, sh)
	}
	made, err := svc.GrantOfficeByCustodians(ctx, shares, "alice", me.KeysFingerprint)
	if channel.ErrorCode(err) != channel.EINVALID {
		t.Errorf("the custodians give the office's key to keys release one made at the account's creation, reported made at %v (%v ago): %v; want refused",
			made, time.Since(made).Round(time.Second), err)
	}
}
