package vault

import (
	"crypto/rand"
	"fmt"
	"io"
)

// Shamir's secret sharing over GF(2^8), written here because no small,
// maintained, vetted standalone module offers it: HashiCorp Vault's shamir
// package lives inside Vault's whole module, and the standalone ports of it
// are unmaintained copies that predate Vault's fix of its cache-timing leak
// (GO-2023-1709, table-driven field arithmetic).
//
// It follows the algorithm of Vault's shamir.go (v1.13.1 and later) and is
// byte-compatible with it, which the known-answer test against shares made by
// Vault checks:
//   - each byte of the secret is the constant term of its own random
//     polynomial of degree k-1 over GF(2^8), with the AES reduction
//     polynomial x^8 + x^4 + x^3 + x + 1;
//   - share i is the evaluations of all those polynomials at one distinct,
//     random, non-zero x, with x appended as the last byte;
//   - combining is Lagrange interpolation at x = 0, byte by byte.
// Any k-1 shares are consistent with every possible secret, so they reveal
// nothing. Field arithmetic is branch- and table-free, so its timing does not
// depend on secret bytes. Shares carry no integrity check: JoinIdentity
// checks the rebuilt key against the fingerprint printed on the shares.

// gfMul multiplies in GF(2^8) by shift-and-add over the bits of b, reducing
// by the AES polynomial, with masks instead of branches.
func gfMul(a, b byte) byte {
	var r byte
	for i := 7; i >= 0; i-- {
		r = r<<1 ^ 0x1b&-(r>>7) // r·x, reduced if x^8 appeared
		r ^= a & -(b >> i & 1)  // + a if bit i of b is set
	}
	return r
}

// gfInv returns a^254, which is a^-1 for a ≠ 0 because the multiplicative
// group has order 255 (and 0 for a = 0). The exponent is public, so the
// square-and-multiply branches do not depend on secrets.
func gfInv(a byte) byte {
	r := byte(1)
	for i := 7; i >= 0; i-- {
		r = gfMul(r, r)
		if 254>>i&1 == 1 {
			r = gfMul(r, a)
		}
	}
	return r
}

// SplitSecret splits secret into n shares, any k of which rebuild it with
// CombineSecret, as HashiCorp Vault's shamir.Split does: 2 ≤ k ≤ n ≤ 255, and
// each share is one byte longer than the secret.
func SplitSecret(secret []byte, n, k int) ([][]byte, error) {
	return splitSecret(rand.Reader, secret, n, k)
}

func splitSecret(random io.Reader, secret []byte, n, k int) ([][]byte, error) {
	switch {
	case k < 2:
		return nil, fmt.Errorf("%w: threshold %d is below 2", ErrSplit, k)
	case n < k:
		return nil, fmt.Errorf("%w: %d shares is fewer than the threshold %d", ErrSplit, n, k)
	case n > 255:
		return nil, fmt.Errorf("%w: %d shares is more than 255", ErrSplit, n)
	case len(secret) == 0:
		return nil, fmt.Errorf("%w: empty secret", ErrSplit)
	}

	// Distinct non-zero x coordinates in random order, as Vault does.
	xs := make([]byte, 0, n)
	var used [256]bool
	used[0] = true
	var one [1]byte
	for len(xs) < n {
		if _, err := io.ReadFull(random, one[:]); err != nil {
			return nil, err
		}
		if !used[one[0]] {
			used[one[0]] = true
			xs = append(xs, one[0])
		}
	}

	shares := make([][]byte, n)
	for i := range shares {
		shares[i] = make([]byte, len(secret)+1)
		shares[i][len(secret)] = xs[i]
	}
	coeffs := make([]byte, k) // coeffs[0] is the secret byte
	defer clear(coeffs)
	for j, s := range secret {
		coeffs[0] = s
		if _, err := io.ReadFull(random, coeffs[1:]); err != nil {
			return nil, err
		}
		for i, x := range xs {
			// Horner's rule.
			y := coeffs[k-1]
			for c := k - 2; c >= 0; c-- {
				y = gfMul(y, x) ^ coeffs[c]
			}
			shares[i][j] = y
		}
	}
	return shares, nil
}

// CombineSecret rebuilds a secret from shares made by SplitSecret. Given at
// least the threshold of them it returns the secret; given fewer it returns
// unrelated bytes, which it cannot detect. It fails on shares of different
// lengths, repeated x coordinates or x = 0.
func CombineSecret(shares [][]byte) ([]byte, error) {
	if len(shares) < 2 {
		return nil, fmt.Errorf("%w: fewer than two shares", ErrTooFewShares)
	}
	size := len(shares[0])
	if size < 2 {
		return nil, fmt.Errorf("%w: share shorter than two bytes", ErrShare)
	}
	xs := make([]byte, len(shares))
	var seen [256]bool
	for i, s := range shares {
		if len(s) != size {
			return nil, fmt.Errorf("%w: shares of different lengths", ErrShareMismatch)
		}
		x := s[size-1]
		if x == 0 {
			return nil, fmt.Errorf("%w: share with x = 0", ErrShare)
		}
		if seen[x] {
			return nil, fmt.Errorf("%w: the same share twice", ErrShareMismatch)
		}
		seen[x] = true
		xs[i] = x
	}

	// The Lagrange basis at 0 depends only on the public xs:
	// l_i = Π_{j≠i} x_j / (x_i + x_j)  (minus is plus in GF(2^8)).
	basis := make([]byte, len(xs))
	for i := range xs {
		l := byte(1)
		for j := range xs {
			if i != j {
				l = gfMul(l, gfMul(xs[j], gfInv(xs[i]^xs[j])))
			}
		}
		basis[i] = l
	}
	secret := make([]byte, size-1)
	for b := range secret {
		var v byte
		for i, s := range shares {
			v ^= gfMul(s[b], basis[i])
		}
		secret[b] = v
	}
	return secret, nil
}
