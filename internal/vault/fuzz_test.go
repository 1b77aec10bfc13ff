package vault

import (
	"bytes"
	"testing"
)

func FuzzParseIdentity(f *testing.F) {
	f.Add(kaIdentity(f).Marshal())
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(id.Marshal(), b) {
			t.Fatalf("Marshal(ParseIdentity(%x)) = %x", b, id.Marshal())
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	f.Add(kaStatement().Canonical())
	f.Add(Statement{}.Canonical())
	f.Add([]byte(statementDomain + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatement(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Canonical(), b) {
			t.Fatalf("Canonical(ParseStatement(%x)) = %x", b, s.Canonical())
		}
	})
}

func FuzzParseShare(f *testing.F) {
	recovery := kaIdentity(f)
	shares, err := SplitIdentity(recovery, []string{"alice", "bob \"the\" builder", "Zoë"}, 2)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range shares {
		f.Add(s.Encode())
	}
	f.Add("dissent recovery share\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseShare(text)
		if err != nil {
			return
		}
		again, err := ParseShare(s.Encode())
		if err != nil || !sameShare(again, s) {
			t.Fatalf("ParseShare(Encode(%+v)) = %+v, %v", s, again, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	// A fixed nonce: fuzz workers are separate processes, and each must see
	// the same valid ciphertext.
	k := Key(seq(32))
	ad := FieldAD("memo-1", "body", 1)
	sealed := sealWithNonce(k, [24]byte(seq(24)), ad, []byte(kaBody))
	f.Add(ad, sealed)
	f.Add([]byte{}, []byte{})
	f.Add(ad, sealed[:SealOverhead])
	f.Fuzz(func(t *testing.T, ad2, b []byte) {
		pt, err := Open(k, ad2, b)
		if err == nil && (!bytes.Equal(ad2, ad) || !bytes.Equal(b, sealed)) {
			// Only Seal's own output, under its own ad, may open.
			t.Fatalf("Open accepted a forgery: ad %x, sealed %x, plaintext %q", ad2, b, pt)
		}
	})
}
