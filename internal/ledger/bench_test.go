package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s := new(MemStorage)
	leaf := testLeaf(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Append(ctx, s, leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// bench10M is a MemStorage holding the stored hashes of 10,000,000 synthetic
// records and no leaves: proofs need only hashes. It is built once, on first
// use, by the benchmark that needs it, so plain `go test` never pays for it.
var bench10M struct {
	once sync.Once
	s    *MemStorage
	err  error
}

const benchProveSize = 10_000_000

func ledger10M() (*MemStorage, error) {
	bench10M.once.Do(func() {
		hashes := make([]tlog.Hash, 0, tlog.StoredHashCount(benchProveSize))
		r := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(indexes))
			for i, x := range indexes {
				out[i] = hashes[x]
			}
			return out, nil
		})
		var record [8]byte
		for n := range int64(benchProveSize) {
			binary.BigEndian.PutUint64(record[:], uint64(n))
			hs, err := tlog.StoredHashes(n, record[:], r)
			if err != nil {
				bench10M.err = err
				return
			}
			hashes = append(hashes, hs...)
		}
		// Size is len(leaves); proofs never read leaves, so empty ones do.
		bench10M.s = &MemStorage{leaves: make([][]byte, benchProveSize), hashes: hashes}
	})
	return bench10M.s, bench10M.err
}

func BenchmarkProveInclusion10M(b *testing.B) {
	s, err := ledger10M()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProveInclusion(ctx, s, rng.Int64N(benchProveSize), benchProveSize); err != nil {
			b.Fatal(err)
		}
	}
}

// benchExport is an exported ledger of benchExportSize leaves, built once.
var benchExport struct {
	once sync.Once
	dir  string
	vkey string
	err  error
}

const benchExportSize = 1 << 20

func exportForBench() (dir, vkey string, err error) {
	benchExport.once.Do(func() {
		ctx := context.Background()
		s := new(MemStorage)
		for i := range benchExportSize {
			// appendRecord skips the decode check Append makes: testLeaf's
			// output is valid by construction, and this is set-up, not the
			// figure being measured.
			if _, err := appendRecord(ctx, s, benchLeaf(i)); err != nil {
				benchExport.err = err
				return
			}
		}
		skey, vkey, err := GenerateKey(testOrigin)
		if err != nil {
			benchExport.err = err
			return
		}
		root, err := TreeHash(ctx, s, benchExportSize)
		if err != nil {
			benchExport.err = err
			return
		}
		msg, err := SignCheckpoint(skey, testOrigin, benchExportSize, root)
		if err != nil {
			benchExport.err = err
			return
		}
		dir, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			benchExport.err = err
			return
		}
		// Shared by every run of the benchmark, so TestMain removes it at exit.
		benchCleanup = append(benchCleanup, dir)
		benchExport.dir, benchExport.vkey = dir, vkey
		benchExport.err = Export(ctx, s, dir, msg)
	})
	return benchExport.dir, benchExport.vkey, benchExport.err
}

// benchLeaf is a leaf shaped like the service's: every event carries the hash
// of its sealed detail, and one in eight is an author's, with a commitment
// and a content hash. They average about 230 bytes.
func benchLeaf(i int) []byte {
	l := Leaf{
		Version: LeafVersion,
		Time:    time.Date(2026, 3, 4, 5, 6, 7, i*1000, time.UTC),
		Action:  "memo.read",
		Memo:    fmt.Sprintf("%026d", i%1000),
		Actor:   fmt.Sprintf("%026d", i),
		Role:    RolePrincipal,
		Detail:  hashB,
	}
	if i%8 == 0 {
		l.Action, l.Actor, l.Role = "memo.sign", "", RoleAuthor
		l.ActorCommit, l.Content, l.Revision = hashA, hashA, 2
	}
	b, err := l.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func BenchmarkVerifyExport(b *testing.B) {
	dir, vkey, err := exportForBench()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cp, err := VerifyExport(dir, vkey)
		if err != nil {
			b.Fatal(err)
		}
		if cp.Size != benchExportSize {
			b.Fatalf("size %d", cp.Size)
		}
	}
	b.ReportMetric(float64(benchExportSize)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

var benchCleanup []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range benchCleanup {
		_ = os.RemoveAll(dir) // a temporary directory: nothing to do if it fails
	}
	os.Exit(code)
}

// BenchmarkHashFloor is the machine's limit for VerifyExport: the two SHA-256
// computations every entry needs (its record hash and, on average, one
// interior node). VerifyExport's entries/s divided by this one's, times the
// CPUs it used, is the share of its time spent on anything but hashing.
func BenchmarkHashFloor(b *testing.B) {
	leaf := benchLeaf(1)
	var h tlog.Hash
	for b.Loop() {
		h = tlog.NodeHash(h, tlog.RecordHash(leaf))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkDecodeLeaf decodes a submission's leaf (every field but actor and
// subject), by DecodeLeaf and by the JSON parser it falls back to.
func BenchmarkDecodeLeaf(b *testing.B) {
	leaf := []byte(`{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.submit","memo":"01J0ZK3V7Q","role":"author","actor_commit":"` +
		hashA + `","detail":"` + hashB + `","content":"` + hashA + `","rev":3}`)
	for _, c := range []struct {
		name   string
		decode func([]byte) (Leaf, error)
	}{{"DecodeLeaf", DecodeLeaf}, {"JSON", decodeJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(leaf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
