package ledger

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// Known-answer tests against the RFC 6962 reference vectors: the eight leaves
// of the Certificate Transparency reference implementation's Merkle tree tests,
// the hashes of every complete subtree, the roots of trees of size 0 to 8, and
// inclusion and consistency proofs. Sources:
//
//   - https://github.com/transparency-dev/merkle/blob/582a6ad190b6848f1d26f8bf08ddef29955d9db1/testonly/constants.go
//     (LeafInputs, NodeHashes, RootHashes, EmptyRootHash)
//   - https://github.com/transparency-dev/merkle/blob/141d627eab770a7e9a2514f46a8b6338e6d90874/testonly/reference_test.go
//     (TestRefInclusionProof, TestRefConsistencyProof)
//   - the same inclusion and consistency vectors in the Go CT merkle verifier
//     tests (github.com/google/certificate-transparency-go and
//     github.com/google/trillian merkle/log_verifier_test.go), which number
//     leaves from 1; they are converted to 0-based indexes here.
//
// tlog's own tests check it against a real CT log (TestCertificateTransparency)
// and the empty hash; these check this package's path — Append through
// MemStorage's stored hashes, TreeHash, the proofs and their verifiers —
// against the reference values.

var rfc6962Leaves = []string{
	"", "00", "10", "2021", "3031", "40414243",
	"5051525354555657", "606162636465666768696a6b6c6d6e6f",
}

// rfc6962Nodes[level][i] is the hash of the i'th complete subtree at level.
var rfc6962Nodes = [][]string{{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
	"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
	"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
}, {
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
}, {
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}, {
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}}

// rfc6962Roots[n] is the root of the tree of the first n leaves.
var rfc6962Roots = []string{
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

var rfc6962Inclusion = []struct {
	index, size int64
	proof       []string
}{
	{0, 1, nil},
	{0, 2, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
	{1, 2, []string{"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
	{2, 3, []string{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
	{1, 5, []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	}},
	{0, 8, []string{
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	}},
	{5, 8, []string{
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	}},
}

var rfc6962Consistency = []struct {
	from, to int64
	proof    []string
}{
	{1, 1, nil},
	{1, 8, []string{
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	}},
	{6, 8, []string{
		"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	}},
	{2, 5, []string{
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	}},
}

func hexHash(t *testing.T, s string) tlog.Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		t.Fatalf("bad test hash %q", s)
	}
	return tlog.Hash(b)
}

func hexHashes(t *testing.T, ss []string) []tlog.Hash {
	t.Helper()
	out := []tlog.Hash{}
	for _, s := range ss {
		out = append(out, hexHash(t, s))
	}
	return out
}

// rfc6962Ledger appends the reference leaves to a MemStorage.
func rfc6962Ledger(t *testing.T) *MemStorage {
	t.Helper()
	ctx := context.Background()
	s := new(MemStorage)
	for i, h := range rfc6962Leaves {
		leaf, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := appendRecord(ctx, s, leaf)
		if err != nil || idx != int64(i) {
			t.Fatalf("append leaf %d = %d, %v", i, idx, err)
		}
	}
	return s
}

func TestRFC6962TreeHashes(t *testing.T) {
	ctx := context.Background()
	s := rfc6962Ledger(t)
	for size, want := range rfc6962Roots {
		got, err := TreeHash(ctx, s, int64(size))
		if err != nil {
			t.Fatal(err)
		}
		if got != hexHash(t, want) {
			t.Errorf("TreeHash(%d) = %x, want %s", size, got, want)
		}
	}
	// Every complete subtree's hash is stored where tlog.StoredHashIndex says.
	for level, hashes := range rfc6962Nodes {
		for i, want := range hashes {
			got, err := s.ReadHashes(ctx, []int64{tlog.StoredHashIndex(level, int64(i))})
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != hexHash(t, want) {
				t.Errorf("stored hash (level %d, %d) = %x, want %s", level, i, got[0], want)
			}
		}
	}
}

func TestRFC6962InclusionProofs(t *testing.T) {
	ctx := context.Background()
	s := rfc6962Ledger(t)
	for _, tt := range rfc6962Inclusion {
		t.Run(fmt.Sprintf("leaf %d of %d", tt.index, tt.size), func(t *testing.T) {
			got, err := ProveInclusion(ctx, s, tt.index, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			want := hexHashes(t, tt.proof)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("proof = %x, want %x", got, want)
			}
			leaf, _ := hex.DecodeString(rfc6962Leaves[tt.index])
			cp := Checkpoint{Size: tt.size, Root: hexHash(t, rfc6962Roots[tt.size])}
			if err := VerifyInclusion(leaf, tt.index, tlog.RecordProof(want), cp); err != nil {
				t.Errorf("VerifyInclusion: %v", err)
			}
			if err := VerifyInclusion([]byte("wrong leaf"), tt.index, tlog.RecordProof(want), cp); err == nil {
				t.Error("VerifyInclusion accepts a wrong leaf")
			}
			if tt.size > 1 {
				if err := VerifyInclusion(leaf, tt.index^1, tlog.RecordProof(want), cp); err == nil {
					t.Error("VerifyInclusion accepts a wrong index")
				}
			}
		})
	}
}

func TestRFC6962ConsistencyProofs(t *testing.T) {
	ctx := context.Background()
	s := rfc6962Ledger(t)
	for _, tt := range rfc6962Consistency {
		t.Run(fmt.Sprintf("%d to %d", tt.from, tt.to), func(t *testing.T) {
			got, err := ProveConsistency(ctx, s, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			want := hexHashes(t, tt.proof)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("proof = %x, want %x", got, want)
			}
			old := Checkpoint{Origin: "rfc6962", Size: tt.from, Root: hexHash(t, rfc6962Roots[tt.from])}
			cur := Checkpoint{Origin: "rfc6962", Size: tt.to, Root: hexHash(t, rfc6962Roots[tt.to])}
			if err := VerifyConsistency(old, cur, tlog.TreeProof(want)); err != nil {
				t.Errorf("VerifyConsistency: %v", err)
			}
			if tt.from != tt.to {
				swapped := Checkpoint{Origin: "rfc6962", Size: tt.to, Root: old.Root}
				if err := VerifyConsistency(old, swapped, tlog.TreeProof(want)); err == nil {
					t.Error("VerifyConsistency accepts a wrong new root")
				}
			}
		})
	}
}

func TestEmptyTree(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	root, err := TreeHash(ctx, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if root != hexHash(t, rfc6962Roots[0]) || emptyRoot != root {
		t.Fatalf("empty tree hash = %x", root)
	}
	proof, err := ProveConsistency(ctx, rfc6962Ledger(t), 0, 8)
	if err != nil || len(proof) != 0 {
		t.Fatalf("ProveConsistency(0, 8) = %x, %v; want an empty proof", proof, err)
	}
	empty := Checkpoint{Origin: "rfc6962", Root: root}
	full := Checkpoint{Origin: "rfc6962", Size: 8, Root: hexHash(t, rfc6962Roots[8])}
	if err := VerifyConsistency(empty, full, nil); err != nil {
		t.Errorf("every tree extends the empty one: %v", err)
	}
	if err := VerifyConsistency(Checkpoint{Origin: "rfc6962", Root: full.Root}, full, nil); err == nil {
		t.Error("VerifyConsistency accepts an empty tree with a non-empty root")
	}
}
