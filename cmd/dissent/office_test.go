package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
)

// TestOfficeFound: the custodians found the office from the command line
// with their share files and the fingerprint that its first member reads
// them; a wrong fingerprint, too few shares or a second founding are
// refused with the reason.
func TestOfficeFound(t *testing.T) {
	data := initData(t)
	ctx := context.Background()
	a, err := openApp(ctx, data, "", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DISSENT_PASSWORD", "a long admin passphrase")
	admin, err := a.signIn(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.CreateUser(ctx, admin, service.NewUser{Username: "ruth", DisplayName: "Ruth", Email: "ruth@example.test",
		Password: "ruth's first password", Roles: []string{"office"}}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.svc.SignIn(ctx, "ruth", "ruth's first password")
	if err != nil {
		t.Fatal(err)
	}
	ruth, err := a.svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.svc.ChangePassword(ctx, ruth, "ruth's first password", "ruth's own passphrase"); err != nil {
		t.Fatal(err)
	}
	tok, _, err = a.svc.SignIn(ctx, "ruth", "ruth's own passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if ruth, err = a.svc.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	me, err := a.svc.Me(ctx, ruth)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.store.Close()

	shares := filepath.Join(data, "recovery-shares")
	one, two := filepath.Join(shares, "custodian-1.txt"), filepath.Join(shares, "custodian-3.txt")
	found := func(fingerprint string, files ...string) (int, string) {
		return runCLI(t, "", append([]string{"office", "found", "--data", data, "--user", "ruth", "--fingerprint", fingerprint}, files...)...)
	}
	if code, out := runCLI(t, "", "office", "found", "--data", data, "--user", "ruth", one, two); code != 2 || !strings.Contains(out, "usage: dissent office found") {
		t.Errorf("without a fingerprint: %d\n%s", code, out)
	}
	if code, out := found(me.KeysFingerprint, one); code == 0 || !strings.Contains(out, "shares") {
		t.Errorf("one share of two: %d\n%s", code, out)
	}
	if code, out := found("0000 0000 0000 0000 0000", one, two); code == 0 || !strings.Contains(out, "not the fingerprint") {
		t.Errorf("a wrong fingerprint: %d\n%s", code, out)
	}
	if code, out := found(me.KeysFingerprint, one, two); code != 0 || !strings.Contains(out, "The channel office is founded: ruth holds its key") || !strings.Contains(out, "The keys of ruth were made at ") {
		t.Fatalf("the founding: %d\n%s", code, out)
	}
	if code, out := found(me.KeysFingerprint, one, two); code == 0 || !strings.Contains(out, "founded already") || !strings.Contains(out, "dissent office grant") {
		t.Errorf("a second founding: %d\n%s", code, out)
	}
	// The custodians give the key to a member who holds it: refused.
	code, out := runCLI(t, "", "office", "grant", "--data", data, "--user", "ruth", "--fingerprint", me.KeysFingerprint, one, two)
	if code == 0 || !strings.Contains(out, "holds the office's key already") {
		t.Errorf("a grant to the founder: %d\n%s", code, out)
	}
	if code, out := runCLI(t, "", "office", "dissolve", "--data", data); code != 2 || !strings.Contains(out, "usage: dissent office found|grant") {
		t.Errorf("an unknown ceremony: %d\n%s", code, out)
	}
}
