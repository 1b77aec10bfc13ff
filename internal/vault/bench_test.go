package vault

import (
	"context"
	"crypto/ed25519"
	"testing"

	"golang.org/x/crypto/curve25519"
)

// BenchmarkX25519 measures one age WrapKey and one UnwrapKey, and the raw
// X25519 scalar multiplication they are made of, the machine limit that
// BENCHMARKS.md reports figures as a ratio to.
func BenchmarkX25519(b *testing.B) {
	id := kaIdentity(b)
	k := Key(seq(32))
	wrapped, err := WrapKey(id.Public().Box, k)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ScalarMult", func(b *testing.B) {
		scalar, point := seq(32), make([]byte, 32)
		copy(point, curve25519.Basepoint)
		for b.Loop() {
			point, _ = curve25519.X25519(scalar, point)
		}
	})
	b.Run("WrapKey", func(b *testing.B) {
		for b.Loop() {
			if _, err := WrapKey(id.Public().Box, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnwrapKey", func(b *testing.B) {
		for b.Loop() {
			if _, err := id.UnwrapKey(wrapped); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnwrapKeyNotForMe", func(b *testing.B) {
		other := mustIdentity(b)
		for b.Loop() {
			if _, err := other.UnwrapKey(wrapped); err != ErrNotForMe {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEd25519Sign(b *testing.B) {
	id, s := kaIdentity(b), kaStatement()
	for b.Loop() {
		id.Sign(s)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	id, s := kaIdentity(b), kaStatement()
	sig, pub := id.Sign(s), ed25519.PublicKey(id.Public().Sign)
	for b.Loop() {
		if !VerifySignature(pub, s, sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkSeal8K(b *testing.B) {
	k, ad, msg := Key(seq(32)), FieldAD("memo-1", "body", 1), make([]byte, 8<<10)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		Seal(k, ad, msg)
	}
}

func BenchmarkOpen8K(b *testing.B) {
	k, ad := Key(seq(32)), FieldAD("memo-1", "body", 1)
	sealed := Seal(k, ad, make([]byte, 8<<10))
	b.SetBytes(8 << 10)
	for b.Loop() {
		if _, err := Open(k, ad, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDerive is one sign-in's argon2id with the default parameters.
func BenchmarkDerive(b *testing.B) {
	p := NewPasswords(DefaultPasswordParams(), 1)
	salt := seq(16)
	for b.Loop() {
		if _, _, err := p.Derive(context.Background(), []byte("correct horse battery staple"), salt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseIdentity(b *testing.B) {
	m := kaIdentity(b).Marshal()
	for b.Loop() {
		if _, err := ParseIdentity(m); err != nil {
			b.Fatal(err)
		}
	}
}
