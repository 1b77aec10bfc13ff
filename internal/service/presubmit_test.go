package service

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/vault"
)

// TestPrecomputedOnlyServesSameInputs checks that a remembered signature
// check or wrap is used only for exactly the inputs it was made from.
func TestPrecomputedOnlyServesSameInputs(t *testing.T) {
	alice, err := vault.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	bob, err := vault.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	st := vault.Statement{MemoID: "m", Revision: 1, Marking: "UNCLASSIFIED", Signer: "alice"}
	sig := alice.Sign(st)
	other := st
	other.Revision = 2
	for _, p := range []*precomputed{nil, {verified: map[[32]byte]bool{}, wraps: map[[32]byte][]byte{}}} {
		if !p.verify(alice.Public().Sign, st, sig) || !p.verify(alice.Public().Sign, st, sig) {
			t.Error("a good signature does not verify")
		}
		if p.verify(bob.Public().Sign, st, sig) {
			t.Error("verified with another signer's key")
		}
		if p.verify(alice.Public().Sign, other, sig) {
			t.Error("verified for another statement")
		}
		if p.verify(alice.Public().Sign, st, bob.Sign(st)) {
			t.Error("verified another signature")
		}

		k1, _ := vault.NewKey()
		k2, _ := vault.NewKey()
		for _, c := range []struct {
			to  *vault.Identity
			key vault.Key
		}{{alice, k1}, {bob, k1}, {alice, k2}, {alice, k1}} {
			w, err := p.wrap(c.to.Public().Box, c.key)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c.to.UnwrapKey(w); err != nil || got != c.key {
				t.Errorf("a wrap does not open to its key for its recipient: %v", err)
			}
		}
	}
}
