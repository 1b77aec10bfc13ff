package vault

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Share is one custodian's part of the organisation's recovery key.
type Share struct {
	Custodian   string // who holds it
	Threshold   int    // how many shares rebuild the key
	Index       int    // 1-based position among the custodians
	Data        []byte // the secret share, as made by SplitSecret
	Fingerprint string // Public.Fingerprint of the recovery key it belongs to
}

const shareHeader = "dissent recovery share"

var shareEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Encode prints the share for a custodian to keep on paper or retype:
//
//	dissent recovery share
//	custodian: "alice"
//	share: 2
//	threshold: 3
//	recovery key: ABCD-EFGH-IJKL-MNOP-QRST-UVWX
//	data: ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567
//	data: …
//	checksum: ABCD EFGH
//
// The data is base32 in groups of four, eight groups a line. The checksum is
// the first 5 bytes of SHA-256 over all the fields and the data, so any typo
// (a changed, dropped or swapped character) is caught by ParseShare with
// certainty but for a 2^-40 chance, before the share is ever combined.
func (s Share) Encode() string {
	var b strings.Builder
	b.WriteString(shareHeader + "\n")
	fmt.Fprintf(&b, "custodian: %s\n", strconv.Quote(s.Custodian))
	fmt.Fprintf(&b, "share: %d\n", s.Index)
	fmt.Fprintf(&b, "threshold: %d\n", s.Threshold)
	fmt.Fprintf(&b, "recovery key: %s\n", s.Fingerprint)
	data := shareEncoding.EncodeToString(s.Data)
	for i := 0; i < len(data); i += 32 {
		fmt.Fprintf(&b, "data: %s\n", groups(data[i:min(i+32, len(data))], 4, " "))
	}
	fmt.Fprintf(&b, "checksum: %s\n", groups(s.checksum(), 4, " "))
	return b.String()
}

func (s Share) checksum() string {
	h := sha256.Sum256(AD("dissent share checksum v1", s.Custodian,
		strconv.Itoa(s.Index), strconv.Itoa(s.Threshold), s.Fingerprint, string(s.Data)))
	return shareEncoding.EncodeToString(h[:5])
}

// ParseShare reads a share printed by Encode. It forgives what retyping
// changes without changing meaning — blank lines, spaces around and within
// the groups, lower-case letters, CRLF line ends — and nothing else: a wrong
// header, field, value or checksum returns ErrShare. Errors name the line
// but never quote the secret data.
func ParseShare(text string) (Share, error) {
	var lines []string
	for l := range strings.Lines(text) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	bad := func(what string) (Share, error) {
		return Share{}, fmt.Errorf("%w: %s", ErrShare, what)
	}
	field := func(name string) (string, bool) {
		if len(lines) == 0 {
			return "", false
		}
		v, ok := strings.CutPrefix(lines[0], name+":")
		if !ok {
			return "", false
		}
		lines = lines[1:]
		return strings.TrimSpace(v), true
	}
	number := func(name string, lo, hi int) (int, error) {
		v, ok := field(name)
		n, err := strconv.Atoi(v)
		if !ok || err != nil || strconv.Itoa(n) != v || n < lo || n > hi {
			return 0, fmt.Errorf("%w: bad %q line", ErrShare, name)
		}
		return n, nil
	}

	if len(lines) == 0 || lines[0] != shareHeader {
		return bad("missing header line " + strconv.Quote(shareHeader))
	}
	lines = lines[1:]

	var s Share
	v, ok := field("custodian")
	if !ok {
		return bad(`missing "custodian" line`)
	}
	c, err := strconv.Unquote(v)
	if err != nil || v[0] != '"' || validCustodian(c) != nil {
		return bad(`bad "custodian" line`)
	}
	s.Custodian = c
	if s.Index, err = number("share", 1, 255); err != nil {
		return Share{}, err
	}
	if s.Threshold, err = number("threshold", 2, 255); err != nil {
		return Share{}, err
	}
	if v, ok = field("recovery key"); !ok {
		return bad(`missing "recovery key" line`)
	}
	s.Fingerprint = strings.ToUpper(v)
	if !validFingerprint(s.Fingerprint) {
		return bad(`bad "recovery key" line`)
	}

	var data strings.Builder
	for {
		v, ok := field("data")
		if !ok {
			break
		}
		data.WriteString(v)
	}
	// base32 ignores the unused low bits of the last character; requiring
	// the canonical encoding keeps one share from having two spellings.
	enc := squeeze(data.String())
	if s.Data, err = shareEncoding.DecodeString(enc); err != nil || len(s.Data) < 2 || shareEncoding.EncodeToString(s.Data) != enc {
		return bad(`bad "data" lines`)
	}
	if v, ok = field("checksum"); !ok {
		return bad(`missing "checksum" line`)
	}
	if squeeze(v) != s.checksum() {
		return bad("checksum does not match: look for a typo")
	}
	if len(lines) != 0 {
		return bad("unexpected line after the checksum")
	}
	return s, nil
}

// squeeze removes spaces and upper-cases, undoing the grouping of base32.
func squeeze(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

func validFingerprint(f string) bool {
	if len(f) != 29 {
		return false
	}
	for i, g := range strings.Split(f, "-") {
		if len(g) != 4 || i > 5 {
			return false
		}
	}
	_, err := base32.StdEncoding.DecodeString(strings.ReplaceAll(f, "-", ""))
	return err == nil
}

func validCustodian(name string) error {
	if name == "" || len(name) > 200 || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return fmt.Errorf("vault: bad custodian name %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("vault: bad custodian name %q", name)
		}
	}
	return nil
}

// SplitIdentity splits the recovery identity into one share per custodian,
// any k of which rebuild it. Custodian names must be distinct and printable.
func SplitIdentity(recovery *Identity, custodians []string, k int) ([]Share, error) {
	seen := make(map[string]bool, len(custodians))
	for _, c := range custodians {
		if err := validCustodian(c); err != nil {
			return nil, err
		}
		if seen[c] {
			return nil, fmt.Errorf("vault: custodian %q named twice", c)
		}
		seen[c] = true
	}
	secret := recovery.Marshal()
	defer clear(secret)
	parts, err := SplitSecret(secret, len(custodians), k)
	if err != nil {
		return nil, err
	}
	fp := recovery.pub.Fingerprint()
	shares := make([]Share, len(parts))
	for i, p := range parts {
		shares[i] = Share{Custodian: custodians[i], Threshold: k, Index: i + 1, Data: p, Fingerprint: fp}
	}
	return shares, nil
}

// JoinIdentity rebuilds the recovery identity from custodians' shares. It
// returns ErrTooFewShares with fewer shares than their threshold, and
// ErrShareMismatch when the shares are of different keys, repeat one another,
// or rebuild a key whose fingerprint is not the one printed on them (a
// corrupted or forged share).
func JoinIdentity(shares []Share) (*Identity, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrTooFewShares)
	}
	first := shares[0]
	parts := make([][]byte, len(shares))
	seen := make(map[int]bool, len(shares))
	for i, s := range shares {
		if s.Fingerprint != first.Fingerprint || s.Threshold != first.Threshold {
			return nil, fmt.Errorf("%w: shares of different recovery keys", ErrShareMismatch)
		}
		if seen[s.Index] {
			return nil, fmt.Errorf("%w: share %d given twice", ErrShareMismatch, s.Index)
		}
		seen[s.Index] = true
		if len(s.Data) != IdentitySize+1 {
			return nil, fmt.Errorf("%w: share %d has the wrong length", ErrShareMismatch, s.Index)
		}
		parts[i] = s.Data
	}
	if first.Threshold < 2 || first.Threshold > 255 {
		return nil, fmt.Errorf("%w: threshold %d", ErrShare, first.Threshold)
	}
	if len(shares) < first.Threshold {
		return nil, fmt.Errorf("%w: %d given, %d needed", ErrTooFewShares, len(shares), first.Threshold)
	}
	secret, err := CombineSecret(parts)
	if err != nil {
		return nil, fmt.Errorf("%w: the shares cannot be combined", ErrShareMismatch)
	}
	defer clear(secret)
	id, err := ParseIdentity(secret)
	if err != nil || id.pub.Fingerprint() != first.Fingerprint {
		return nil, fmt.Errorf("%w: the shares do not rebuild the key they name", ErrShareMismatch)
	}
	return id, nil
}
