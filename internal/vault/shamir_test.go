package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// gfMulSlow is the schoolbook product: carry-less multiply, then reduce by
// x^8 + x^4 + x^3 + x + 1.
func gfMulSlow(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for i := 15; i >= 8; i-- {
		if p>>i&1 == 1 {
			p ^= 0x11b << (i - 8)
		}
	}
	return byte(p)
}

func TestGFKnownAnswers(t *testing.T) {
	// From Vault's shamir tests and FIPS 197 section 4.2.
	for _, c := range []struct{ a, b, want byte }{
		{3, 7, 9}, {3, 0, 0}, {0, 3, 0}, {0x57, 0x83, 0xc1}, {0x57, 0x13, 0xfe},
	} {
		if got := gfMul(c.a, c.b); got != c.want {
			t.Errorf("gfMul(%#x, %#x) = %#x, want %#x", c.a, c.b, got, c.want)
		}
	}
	if gfInv(0x53) != 0xca { // FIPS 197 section 5.1.1
		t.Errorf("gfInv(0x53) = %#x, want 0xca", gfInv(0x53))
	}
	for a := range 256 {
		for b := range 256 {
			if got, want := gfMul(byte(a), byte(b)), gfMulSlow(byte(a), byte(b)); got != want {
				t.Fatalf("gfMul(%#x, %#x) = %#x, want %#x", a, b, got, want)
			}
		}
		if a != 0 && gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("gfInv(%#x) is not an inverse", a)
		}
	}
}

// TestCombineVaultShares combines shares made by HashiCorp Vault's
// shamir.Split (5 shares, threshold 2, of DEADBEEFDEADBEEF), as published in
// the interoperability test of the ekeyx library.
func TestCombineVaultShares(t *testing.T) {
	shares := []string{
		"89a0e17a7f82bf8a01",
		"e3486a38b0304b63f5",
		"04dda656bc456d32d3",
		"3dfd7cfa90ba5209ec",
		"0018a82dfe27a78519",
	}
	for i := range shares {
		for j := i + 1; j < len(shares); j++ {
			got, err := CombineSecret([][]byte{unhex(t, shares[i]), unhex(t, shares[j])})
			if err != nil || hex.EncodeToString(got) != "deadbeefdeadbeef" {
				t.Fatalf("shares %d and %d give %x, %v", i, j, got, err)
			}
		}
	}
}

// TestSplitKnownAnswer splits with fixed "random" bytes and checks the
// shares against values computed by hand (with a separate schoolbook
// GF(2^8) in Python): x coordinates 5, 3, 0x80 (0 and the repeated 5 are
// skipped), then two coefficients per secret byte, 0x10 to 0x1d.
func TestSplitKnownAnswer(t *testing.T) {
	random := append([]byte{0, 5, 5, 3, 0x80}, seq(0x1e)[0x10:]...)
	shares, err := splitSecret(bytes.NewReader(random), []byte("dissent"), 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2e0b69418facce05", "01000e0230373903", "457c3a0e94abed80"}
	for i, s := range shares {
		if hex.EncodeToString(s) != want[i] {
			t.Errorf("share %d = %x, want %s", i, s, want[i])
		}
	}
	if got, err := CombineSecret(shares); err != nil || string(got) != "dissent" {
		t.Errorf("CombineSecret = %q, %v", got, err)
	}
}

func TestSplitCombine(t *testing.T) {
	secret := seq(33)
	for _, c := range []struct{ n, k int }{{2, 2}, {3, 2}, {5, 3}, {7, 7}, {255, 4}} {
		shares, err := SplitSecret(secret, c.n, c.k)
		if err != nil {
			t.Fatal(err)
		}
		if len(shares) != c.n || len(shares[0]) != len(secret)+1 {
			t.Fatalf("%d of %d: got %d shares of %d bytes", c.k, c.n, len(shares), len(shares[0]))
		}
		// Any k shares, here the last k in reverse order, rebuild it.
		pick := make([][]byte, 0, c.n)
		for i := c.n - 1; i >= c.n-c.k; i-- {
			pick = append(pick, shares[i])
		}
		if got, err := CombineSecret(pick); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("%d of %d: combine = %x, %v", c.k, c.n, got, err)
		}
		if got, err := CombineSecret(shares); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("%d of %d: combine all = %x, %v", c.k, c.n, got, err)
		}
		// k-1 shares give something else entirely.
		if c.k > 2 {
			if got, err := CombineSecret(pick[1:]); err != nil || bytes.Equal(got, secret) {
				t.Fatalf("%d of %d: k-1 shares rebuilt the secret (%v)", c.k, c.n, err)
			}
		}
	}
}

func TestSplitSecretRejects(t *testing.T) {
	for _, c := range []struct {
		secret []byte
		n, k   int
	}{
		{[]byte("s"), 3, 1}, {[]byte("s"), 2, 3}, {[]byte("s"), 256, 2}, {nil, 3, 2},
	} {
		if _, err := SplitSecret(c.secret, c.n, c.k); !errors.Is(err, ErrSplit) {
			t.Errorf("SplitSecret(%q, %d, %d) = %v, want ErrSplit", c.secret, c.n, c.k, err)
		}
	}
}

func TestCombineSecretRejects(t *testing.T) {
	shares, _ := SplitSecret([]byte("secret"), 3, 2)
	for name, c := range map[string]struct {
		shares [][]byte
		want   error
	}{
		"one share":   {shares[:1], ErrTooFewShares},
		"twice":       {[][]byte{shares[0], shares[0]}, ErrShareMismatch},
		"lengths":     {[][]byte{shares[0], shares[1][1:]}, ErrShareMismatch},
		"too short":   {[][]byte{{1}, {2}}, ErrShare},
		"x of zero":   {[][]byte{{1, 0}, {2, 1}}, ErrShare},
		"x of zero 2": {[][]byte{{2, 1}, {1, 0}}, ErrShare},
	} {
		if _, err := CombineSecret(c.shares); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
