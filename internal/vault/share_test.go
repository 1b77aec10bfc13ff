package vault

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var custodians = []string{"alice", "bob", "Carol Ödegaard", "dave", "erin"}

func splitForTest(t *testing.T, k int) (*Identity, []Share) {
	t.Helper()
	recovery := mustIdentity(t)
	shares, err := SplitIdentity(recovery, custodians, k)
	if err != nil {
		t.Fatal(err)
	}
	return recovery, shares
}

func TestSplitJoinIdentity(t *testing.T) {
	recovery, shares := splitForTest(t, 3)
	if len(shares) != len(custodians) {
		t.Fatalf("%d shares", len(shares))
	}
	fp := recovery.Public().Fingerprint()
	for i, s := range shares {
		if s.Custodian != custodians[i] || s.Index != i+1 || s.Threshold != 3 || s.Fingerprint != fp {
			t.Fatalf("share %d = %+v", i, s)
		}
	}
	for _, pick := range [][]int{{0, 1, 2}, {4, 2, 0}, {1, 3, 4}, {0, 1, 2, 3, 4}} {
		var sub []Share
		for _, i := range pick {
			sub = append(sub, shares[i])
		}
		got, err := JoinIdentity(sub)
		if err != nil || !bytes.Equal(got.Marshal(), recovery.Marshal()) {
			t.Fatalf("JoinIdentity(%v) = %v, %v", pick, got, err)
		}
	}
}

func TestJoinIdentityRejects(t *testing.T) {
	_, shares := splitForTest(t, 3)
	_, others := splitForTest(t, 3)
	tampered := shares[2]
	tampered.Data = bytes.Clone(tampered.Data)
	tampered.Data[0] ^= 1
	lying := append([]Share(nil), shares[:2]...)
	for i := range lying {
		lying[i].Threshold = 2
	}
	forged := others[2]
	forged.Fingerprint = shares[0].Fingerprint
	for name, c := range map[string]struct {
		shares []Share
		want   error
	}{
		"none":                 {nil, ErrTooFewShares},
		"k-1":                  {shares[:2], ErrTooFewShares},
		"one":                  {shares[:1], ErrTooFewShares},
		"different keys":       {[]Share{shares[0], shares[1], others[2]}, ErrShareMismatch},
		"same share twice":     {[]Share{shares[0], shares[1], shares[1]}, ErrShareMismatch},
		"tampered data":        {[]Share{shares[0], shares[1], tampered}, ErrShareMismatch},
		"lower threshold":      {lying, ErrShareMismatch},
		"foreign, relabelled":  {[]Share{shares[0], shares[1], forged}, ErrShareMismatch},
		"different thresholds": {[]Share{shares[0], shares[1], lying[0]}, ErrShareMismatch},
	} {
		if _, err := JoinIdentity(c.shares); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestSplitIdentityRejects(t *testing.T) {
	id := mustIdentity(t)
	for name, c := range map[string]struct {
		custodians []string
		k          int
	}{
		"threshold 1":         {[]string{"a", "b"}, 1},
		"threshold above n":   {[]string{"a", "b"}, 3},
		"named twice":         {[]string{"a", "b", "a"}, 2},
		"empty name":          {[]string{"a", ""}, 2},
		"newline in name":     {[]string{"a", "b\nc"}, 2},
		"padded name":         {[]string{"a", " b"}, 2},
		"invalid UTF-8 name":  {[]string{"a", "\xff"}, 2},
		"too many custodians": {make([]string, 256), 2},
	} {
		if name == "too many custodians" {
			for i := range c.custodians {
				c.custodians[i] = fmt.Sprint("custodian ", i)
			}
		}
		if _, err := SplitIdentity(id, c.custodians, c.k); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestShareEncoding(t *testing.T) {
	_, shares := splitForTest(t, 3)
	s := shares[2]
	text := s.Encode()
	if !strings.HasPrefix(text, "dissent recovery share\n") || !strings.Contains(text, "\nchecksum: ") {
		t.Fatalf("Encode =\n%s", text)
	}
	got, err := ParseShare(text)
	if err != nil || !sameShare(got, s) {
		t.Fatalf("ParseShare = %+v, %v", got, err)
	}

	// What retyping changes without changing meaning is forgiven.
	retyped := strings.ReplaceAll(text, "\n", "\r\n\r\n")
	for _, prefix := range []string{"data: ", "checksum: "} {
		retyped = lowerLinesAfter(retyped, prefix)
	}
	retyped = strings.ReplaceAll(retyped, "data: ", "data:   ")
	if got, err := ParseShare("\n  " + retyped + "  \n"); err != nil || !bytes.Equal(got.Data, s.Data) {
		t.Fatalf("retyped share: %v\n%s", err, retyped)
	}
}

func lowerLinesAfter(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			lines[i] = prefix + strings.ToLower(v)
		}
	}
	return strings.Join(lines, "\n")
}

// TestShareTypoDetected changes, drops or swaps each character of an encoded
// share in turn. Every such typo must be refused, unless it only changes
// spacing or letter case and the share still reads exactly as it was.
func TestShareTypoDetected(t *testing.T) {
	_, shares := splitForTest(t, 3)
	orig := shares[1]
	text := orig.Encode()
	normal := func(s string) string {
		return strings.ToUpper(strings.Join(strings.Fields(s), ""))
	}
	checked := 0
	check := func(what, typo string) {
		t.Helper()
		got, err := ParseShare(typo)
		switch {
		case errors.Is(err, ErrShare):
			checked++
		case err != nil:
			t.Fatalf("%s: error %v is not ErrShare", what, err)
		case normal(typo) != normal(text) || !sameShare(got, orig):
			t.Fatalf("%s not caught:\n%s", what, typo)
		}
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcz0189 -:\"\n"
	for i := range len(text) {
		for _, c := range []byte(alphabet) {
			if c != text[i] {
				check("replacing a character", text[:i]+string(c)+text[i+1:])
			}
		}
		check("dropping a character", text[:i]+text[i+1:])
		if i+1 < len(text) && text[i] != text[i+1] {
			check("swapping two characters", text[:i]+string(text[i+1])+string(text[i])+text[i+2:])
		}
	}
	if checked < 40*len(text) {
		t.Fatalf("only %d typos caught in %d characters", checked, len(text))
	}
}

func sameShare(a, b Share) bool {
	return a.Custodian == b.Custodian && a.Index == b.Index && a.Threshold == b.Threshold &&
		a.Fingerprint == b.Fingerprint && bytes.Equal(a.Data, b.Data)
}

func TestParseShareRejects(t *testing.T) {
	_, shares := splitForTest(t, 3)
	good := shares[0].Encode()
	for name, text := range map[string]string{
		"empty":        "",
		"no header":    strings.TrimPrefix(good, shareHeader+"\n"),
		"other header": strings.Replace(good, shareHeader, "dissent recovery share v2", 1),
		"fields reordered": strings.Replace(strings.Replace(good, "share: 1\n", "", 1),
			"threshold: 3\n", "threshold: 3\nshare: 1\n", 1),
		"no checksum":    good[:strings.Index(good, "checksum:")],
		"extra line":     good + "note: keep safe\n",
		"unquoted name":  strings.Replace(good, `"alice"`, "alice", 1),
		"backquote name": strings.Replace(good, `"alice"`, "`alice`", 1),
		"index 0":        strings.Replace(good, "share: 1\n", "share: 0\n", 1),
		"index 01":       strings.Replace(good, "share: 1\n", "share: 01\n", 1),
	} {
		if _, err := ParseShare(text); !errors.Is(err, ErrShare) {
			t.Errorf("%s: %v, want ErrShare", name, err)
		}
	}
	// The error never quotes the secret data.
	data := good[strings.Index(good, "data: ")+6:]
	data = data[:strings.Index(data, "\n")]
	_, err := ParseShare(strings.Replace(good, data, data[:len(data)-1]+"!", 1))
	if err == nil || strings.Contains(err.Error(), data[:9]) {
		t.Errorf("error %v", err)
	}
}
