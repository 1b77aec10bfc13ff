package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testLeaf returns a distinct valid leaf for seed, encoded.
func testLeaf(seed int) []byte {
	l := Leaf{
		Version: LeafVersion,
		Time:    time.Date(2026, 3, 4, 5, 6, 7, seed*1000, time.UTC),
		Action:  "memo.read",
		Memo:    fmt.Sprintf("m-%d", seed%31),
		Actor:   fmt.Sprintf("u-%d", seed),
		Role:    RolePrincipal,
	}
	b, err := l.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

const (
	hashA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	hashB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

var submitTime = time.Date(2016, 6, 20, 14, 3, 9, 120000000, time.UTC)

func TestLeafEncodeGolden(t *testing.T) {
	tests := []struct {
		name string
		leaf Leaf
		want string
	}{
		{
			name: "submission by a hidden author",
			leaf: Leaf{Version: 1, Time: submitTime, Action: "memo.submit", Memo: "01J0ZK3V7Q", Role: RoleAuthor,
				ActorCommit: hashA, Detail: hashB, Content: hashA, Revision: 3},
			want: `{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.submit","memo":"01J0ZK3V7Q","role":"author","actor_commit":"` +
				hashA + `","detail":"` + hashB + `","content":"` + hashA + `","rev":3}`,
		},
		{
			name: "read by a named principal, time converted to UTC",
			leaf: Leaf{Version: 1, Time: submitTime.In(time.FixedZone("EDT", -4*3600)), Action: "memo.read", Memo: "m1", Actor: "u-7", Role: RolePrincipal},
			want: `{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.read","memo":"m1","actor":"u-7","role":"principal"}`,
		},
		{
			name: "salted read",
			leaf: Leaf{Version: 1, Time: submitTime, Action: "memo.read", Memo: "m1", Actor: "u-7", Role: RolePrincipal, Salt: "00112233445566778899aabbccddeeff"},
			want: `{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.read","memo":"m1","actor":"u-7","role":"principal","salt":"00112233445566778899aabbccddeeff"}`,
		},
		{
			name: "key anchor naming its subject, sealed",
			leaf: Leaf{Version: 1, Time: submitTime, Action: "user.new_keys", Role: RoleMember, ActorCommit: hashB, Content: hashA,
				AnchorOf: strings.Repeat("ab", MinAnchorOfSize), Salt: "00112233445566778899aabbccddeeff"},
			want: `{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"user.new_keys","role":"member","actor_commit":"` + hashB +
				`","content":"` + hashA + `","anchor_of":"` + strings.Repeat("ab", MinAnchorOfSize) + `","salt":"00112233445566778899aabbccddeeff"}`,
		},
		{
			name: "failed sign-ins counted together",
			leaf: Leaf{Version: 1, Time: submitTime, Action: "session.fail", Role: RoleSystem, Salt: "00112233445566778899aabbccddeeff", Count: 250},
			want: `{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"session.fail","role":"system","salt":"00112233445566778899aabbccddeeff","count":250}`,
		},
		{
			name: "a submission's deadlines",
			leaf: Leaf{Version: 1, Time: submitTime, Action: "memo.submit", Memo: "m1", Role: RoleAuthor, ActorCommit: hashA, Content: hashB, Revision: 1,
				Due: "2016-06-22T21:00:00Z,2016-08-02T21:00:00Z,2016-09-13T21:00:00.5Z"},
			want: `{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.submit","memo":"m1","role":"author","actor_commit":"` + hashA +
				`","content":"` + hashB + `","rev":1,"due":"2016-06-22T21:00:00Z,2016-08-02T21:00:00Z,2016-09-13T21:00:00.5Z"}`,
		},
		{
			name: "minimal",
			leaf: Leaf{Version: 1, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Action: "ledger.checkpoint"},
			want: `{"v":1,"at":"2026-01-01T00:00:00Z","action":"ledger.checkpoint"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.leaf.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Encode =\n%s\nwant\n%s", got, tt.want)
			}
			// The hand-written encoding is exactly what an ordinary JSON library
			// produces for the same struct, so outside tools agree with it.
			l := tt.leaf
			l.Time = l.Time.UTC()
			std, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(std, got) {
				t.Errorf("json.Marshal =\n%s\ndiffers from Encode", std)
			}
			back, err := DecodeLeaf(got)
			if err != nil {
				t.Fatalf("DecodeLeaf(Encode()) = %v", err)
			}
			if !back.Time.Equal(tt.leaf.Time) || back.Time.Location() != time.UTC {
				t.Errorf("time round trip = %v, want %v in UTC", back.Time, tt.leaf.Time)
			}
			back.Time = tt.leaf.Time
			if back != tt.leaf {
				t.Errorf("round trip = %+v, want %+v", back, tt.leaf)
			}
		})
	}
}

func TestDecodeLeafRejects(t *testing.T) {
	const ok = `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","memo":"m1","actor":"u1","role":"office"}`
	if _, err := DecodeLeaf([]byte(ok)); err != nil {
		t.Fatalf("the valid base case fails: %v", err)
	}
	tests := []struct{ name, in string }{
		{"empty", ``},
		{"not an object", `[]`},
		{"null", `null`},
		{"space after a colon", `{"v": 1,"at":"2026-01-01T00:00:00Z","action":"memo.read"}`},
		{"trailing newline", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read"}` + "\n"},
		{"two objects", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read"}{}`},
		{"fields reordered", `{"at":"2026-01-01T00:00:00Z","v":1,"action":"memo.read"}`},
		{"unknown field", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","title":"Syria"}`},
		{"duplicate field", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","action":"memo.read"}`},
		{"key in another case", `{"V":1,"at":"2026-01-01T00:00:00Z","action":"memo.read"}`},
		{"escaped character", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.re\u0061d"}`},
		{"empty field not omitted", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","memo":""}`},
		{"zero revision not omitted", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","rev":0}`},
		{"revision as float", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","rev":1.0}`},
		{"negative revision", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","rev":-1}`},
		{"version 2", `{"v":2,"at":"2026-01-01T00:00:00Z","action":"memo.read"}`},
		{"no version", `{"at":"2026-01-01T00:00:00Z","action":"memo.read"}`},
		{"no time", `{"v":1,"action":"memo.read"}`},
		{"time with offset", `{"v":1,"at":"2026-01-01T01:00:00+01:00","action":"memo.read"}`},
		{"time with trailing zeros", `{"v":1,"at":"2026-01-01T00:00:00.500Z","action":"memo.read"}`},
		{"time lower-case z", `{"v":1,"at":"2026-01-01T00:00:00z","action":"memo.read"}`},
		{"no action", `{"v":1,"at":"2026-01-01T00:00:00Z"}`},
		{"action upper case", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"Memo.read"}`},
		{"action with space", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo read"}`},
		{"memo with free text", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","memo":"Syria policy"}`},
		{"non-ASCII id", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","memo":"mémo"}`},
		{"invalid UTF-8", "{\"v\":1,\"at\":\"2026-01-01T00:00:00Z\",\"action\":\"memo.read\",\"memo\":\"\xff\"}"},
		{"unknown role", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","role":"root"}`},
		{"hash upper case", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","detail":"` + strings.ToUpper(hashA) + `"}`},
		{"hash short", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","content":"` + hashA[:62] + `"}`},
		{"actor and commitment", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","memo":"m1","actor":"u1","role":"office","actor_commit":"` + hashA + `"}`},
		{"named author", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"session.create","actor":"u1","role":"author"}`},
		{"named member on a memo", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.create","memo":"m1","actor":"u1","role":"member"}`},
		{"named actor on a memo without role", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.create","memo":"m1","actor":"u1"}`},
		{"too large", `{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","memo":"` + strings.Repeat("a", MaxLeafSize) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := DecodeLeaf([]byte(tt.in))
			if !errors.Is(err, ErrBadLeaf) {
				t.Fatalf("DecodeLeaf = %+v, %v; want ErrBadLeaf", l, err)
			}
			if !strings.HasPrefix(err.Error(), "ledger: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	base := Leaf{Version: 1, Time: submitTime, Action: "memo.read"}
	tests := []struct {
		name string
		edit func(*Leaf)
	}{
		{"zero time", func(l *Leaf) { l.Time = time.Time{} }},
		{"year 10000", func(l *Leaf) { l.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"version 0", func(l *Leaf) { l.Version = 0 }},
		{"quote in id", func(l *Leaf) { l.Memo = `m"1` }},
		{"backslash in id", func(l *Leaf) { l.Actor = `u\1`; l.Role = RoleAdmin }},
		{"long id", func(l *Leaf) { l.Memo = strings.Repeat("m", maxIDLen+1) }},
		{"long action", func(l *Leaf) { l.Action = strings.Repeat("a", maxActionLen+1) }},
		{"short salt", func(l *Leaf) { l.Salt = "00112233" }},
		{"salt in capitals", func(l *Leaf) { l.Salt = "00112233445566778899AABBCCDDEEFF" }},
		{"anchor_of without content", func(l *Leaf) { l.AnchorOf = strings.Repeat("ab", MinAnchorOfSize) }},
		{"short anchor_of", func(l *Leaf) { l.Content = hashA; l.AnchorOf = strings.Repeat("ab", MinAnchorOfSize-1) }},
		{"long anchor_of", func(l *Leaf) { l.Content = hashA; l.AnchorOf = strings.Repeat("ab", MaxAnchorOfSize+1) }},
		{"odd anchor_of", func(l *Leaf) { l.Content = hashA; l.AnchorOf = strings.Repeat("ab", MinAnchorOfSize) + "a" }},
		{"due with an offset", func(l *Leaf) { l.Due = "2016-06-22T21:00:00+00:00" }},
		{"due with a trailing zero", func(l *Leaf) { l.Due = "2016-06-22T21:00:00.50Z" }},
		{"due not a time", func(l *Leaf) { l.Due = "tomorrow" }},
		{"due empty between commas", func(l *Leaf) { l.Due = "2016-06-22T21:00:00Z,,2016-06-22T21:00:00Z" }},
		{"due of five times", func(l *Leaf) {
			l.Due = strings.Repeat("2016-06-22T21:00:00Z,", 4) + "2016-06-22T21:00:00Z"
		}},
		{"count of one", func(l *Leaf) { l.Count = 1 }},
		{"negative count", func(l *Leaf) { l.Count = -2 }},
		{"count beyond ten digits", func(l *Leaf) { l.Count = MaxCount + 1 }},
		{"anchor_of in capitals", func(l *Leaf) { l.Content = hashA; l.AnchorOf = strings.Repeat("AB", MinAnchorOfSize) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := base
			tt.edit(&l)
			if b, err := l.Encode(); !errors.Is(err, ErrBadLeaf) {
				t.Fatalf("Encode = %s, %v; want ErrBadLeaf", b, err)
			}
		})
	}
}

func TestActorCommitment(t *testing.T) {
	nonce := make([]byte, ActorNonceSize)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	// Known answer computed independently:
	//   python3 -c "import hashlib; print(hashlib.sha256(b'dissent-actor-v1\x00user-42\x00'+bytes(range(32))).hexdigest())"
	const want = "531e31e64501dd93acffd0edcf7c7f985f3453f710879a94e66b8852a8a87d3e"
	if got := ActorCommitment("user-42", nonce); got != want {
		t.Fatalf("ActorCommitment = %s, want %s", got, want)
	}
	if !CheckActorCommitment(want, "user-42", nonce) {
		t.Error("CheckActorCommitment rejects the right user")
	}
	if CheckActorCommitment(want, "user-43", nonce) {
		t.Error("CheckActorCommitment accepts another user")
	}
	if CheckActorCommitment(want, "user-42", nonce[:31]) {
		t.Error("CheckActorCommitment accepts a short nonce")
	}
	fresh, err := NewActorNonce()
	if err != nil {
		t.Fatal(err)
	}
	if ActorCommitment("user-42", fresh) == want {
		t.Error("a fresh nonce gives the same commitment")
	}
	l := Leaf{Version: 1, Time: submitTime, Action: "memo.sign", Memo: "m1", Role: RoleAuthor, ActorCommit: want, Revision: 1}
	if _, err := l.Encode(); err != nil {
		t.Errorf("a leaf with a commitment does not encode: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("ActorCommitment with a 16-byte nonce did not panic")
		}
	}()
	ActorCommitment("user-42", nonce[:16])
}

// TestKeyAnchor pins the key anchor to the formula LEDGER.md gives an
// outside verifier (the vectors were computed apart, with Python's
// hashlib), and checks that moving bytes between parts changes it.
func TestKeyAnchor(t *testing.T) {
	sign := make([]byte, 32)
	for i := range sign {
		sign[i] = byte(i)
	}
	for _, c := range []struct {
		subject, username, box string
		sign                   []byte
		want                   string
	}{
		{"u-ben", "ben", "age1qqqq", sign, "35c4fac0b2a400da68c29036afb9ffe78f379d92260cb04e0cc3f9b0bd69df54"},
		{"group:office", "", "age1qqqq", nil, "8681d6dfada6c28215f88fa631181a2588369067ef4d5e11000106664275957f"},
	} {
		if got := KeyAnchor(c.subject, c.username, c.box, c.sign); got != c.want {
			t.Errorf("KeyAnchor(%q, %q, %q, …) = %s, want %s", c.subject, c.username, c.box, got, c.want)
		}
	}
	if KeyAnchor("u-ben", "ben", "age1", nil) == KeyAnchor("u-ben", "bena", "ge1", nil) {
		t.Error("a byte moved from one part to the next gives the same anchor")
	}
	l := Leaf{Action: "user.new_keys", Content: KeyAnchor("u", "n", "b", nil)}
	if !l.AnchorsKeys() {
		t.Error("user.new_keys with content does not anchor keys")
	}
	if l.Action = "memo.submit"; l.AnchorsKeys() {
		t.Error("a submission anchors keys")
	}
}
