package vault

import "strings"

// bech32Encode encodes data in Bech32 (BIP 173) under the human-readable
// part hrp, in lower case.
//
// It exists only because age offers no constructor for an X25519 identity
// from raw bytes, only ParseX25519Identity of the "AGE-SECRET-KEY-1…" string.
// This is an encoding with a checksum, not cryptography, and its output is
// always read back by age's own strict parser; TestBech32AgeVector checks it
// against a string produced by age itself.
func bech32Encode(hrp string, data []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	hrp = strings.ToLower(hrp)

	// Regroup the 8-bit bytes into 5-bit values, zero-padding the last.
	values := make([]byte, 0, (len(data)*8+4)/5+6)
	var acc uint32
	var bits uint
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			values = append(values, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		values = append(values, byte(acc<<(5-bits))&31)
	}

	// The checksum is the BCH code of BIP 173 over the expanded hrp, the
	// data and six zero values.
	chk := uint32(1)
	polymod := func(v byte) {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i, g := range [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3} {
			chk ^= g & -(top >> i & 1) // branch-free: data may be a secret key
		}
	}
	for i := 0; i < len(hrp); i++ {
		polymod(hrp[i] >> 5)
	}
	polymod(0)
	for i := 0; i < len(hrp); i++ {
		polymod(hrp[i] & 31)
	}
	for _, v := range values {
		polymod(v)
	}
	for range 6 {
		polymod(0)
	}
	chk ^= 1

	var s strings.Builder
	s.Grow(len(hrp) + 1 + len(values) + 6)
	s.WriteString(hrp)
	s.WriteByte('1')
	for _, v := range values {
		s.WriteByte(charset[v])
	}
	for i := range 6 {
		s.WriteByte(charset[chk>>(5*(5-i))&31])
	}
	return s.String()
}
