package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of exported tiles: each full tile holds 2^8 = 256
// hashes or leaves, as in the Go checksum database and C2SP tlog-tiles.
const TileHeight = 8

const tileWidth = 1 << TileHeight

// CheckpointFile is the name of the checkpoint note in an export directory.
const CheckpointFile = "checkpoint"

// MaxExportSize is the most leaves an export can hold: tlog, which hashes
// and proves the tree, computes only with trees of fewer than 2^62 leaves
// (larger ones overflow its int64 arithmetic, and some of its loops never
// end), so no ledger, and no export of one, is larger. A signed checkpoint
// may still claim more; Export and VerifyExport refuse it.
const MaxExportSize = 1<<62 - 1

// checkExportSize refuses a checkpoint size no export could hold.
func checkExportSize(size int64) error {
	if size < 0 || size > MaxExportSize {
		return fmt.Errorf("%w: size %d: no export holds more than %d leaves", ErrBadCheckpoint, size, int64(MaxExportSize))
	}
	return nil
}

// tileCount is the number of data tiles of an export of size leaves, the
// last one partial: size/256 rounded up, without the overflow of
// (size+255)/256.
func tileCount(size int64) int64 {
	n := size / tileWidth
	if size%tileWidth != 0 {
		n++
	}
	return n
}

// Export writes the ledger's first cp.Size leaves, where cp is the given
// checkpoint note, to dir so that anyone can verify them offline:
//
//	dir/checkpoint                 the checkpoint note, byte for byte
//	dir/tile/8/<L>/<N>[.p/<W>]     hash tiles: stored hashes of tree level 8L
//	dir/tile/8/data/<N>[.p/<W>]    data tiles: leaves 256N..256N+W-1, each followed by '\n'
//
// Paths are tlog.Tile.Path's. Leaves are canonical JSON, which never contains
// a newline byte, so a data tile is also a JSON Lines file. Export checks the
// checkpoint's root against the stored hashes and every leaf against its
// stored record hash before writing, and refuses to export a ledger that fails.
// Each file is written to a temporary name and renamed, and the checkpoint
// last, so a directory holding an earlier export is updated in place without
// ever showing a checkpoint whose tiles are not all there. Tiles are immutable
// (a partial tile has its width in its name), which is what makes that safe.
func Export(ctx context.Context, s Storage, dir string, checkpoint []byte) error {
	cp, err := parseUnverified(checkpoint)
	if err != nil {
		return err
	}
	if err := checkExportSize(cp.Size); err != nil {
		return err
	}
	root, err := TreeHash(ctx, s, cp.Size)
	if err != nil {
		return err
	}
	if root != cp.Root {
		return fmt.Errorf("%w: root at size %d is not this ledger's: wrong ledger, or the ledger was altered (run SelfCheck)", ErrBadCheckpoint, cp.Size)
	}
	if err := extendsExport(ctx, s, dir, cp); err != nil {
		return err
	}
	r := tlogReader{ctx, s}
	for k := range tileCount(cp.Size) {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := int(min(tileWidth, cp.Size-k*tileWidth))
		hashTile := tlog.Tile{H: TileHeight, L: 0, N: k, W: w}
		hashes, err := tlog.ReadTileData(hashTile, r)
		if err != nil {
			return fmt.Errorf("ledger: export %s: %w", hashTile.Path(), err)
		}
		leaves, err := s.ReadLeaves(ctx, k*tileWidth, k*tileWidth+int64(w))
		if err != nil {
			return fmt.Errorf("ledger: export leaves of tile %d: %w", k, err)
		}
		if len(leaves) != w {
			return tampered(k*tileWidth+int64(len(leaves)), "leaf missing: storage returned %d leaves for a tile of %d", len(leaves), w)
		}
		var data bytes.Buffer
		for i, leaf := range leaves {
			idx := k*tileWidth + int64(i)
			if bytes.IndexByte(leaf, '\n') >= 0 {
				return tampered(idx, "leaf contains a newline, which no canonical leaf does")
			}
			if rh := tlog.RecordHash(leaf); !bytes.Equal(rh[:], hashes[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
				return tampered(idx, "record hash of the leaf differs from the stored hash")
			}
			data.Write(leaf)
			data.WriteByte('\n')
		}
		if err := writeExportFile(dir, hashTile.Path(), hashes); err != nil {
			return err
		}
		dataTile := tlog.Tile{H: TileHeight, L: -1, N: k, W: w}
		if err := writeExportFile(dir, dataTile.Path(), data.Bytes()); err != nil {
			return err
		}
	}
	for _, t := range tlog.NewTiles(TileHeight, 0, cp.Size) {
		if t.L == 0 {
			continue // written beside their data tiles above
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		hashes, err := tlog.ReadTileData(t, r)
		if err != nil {
			return fmt.Errorf("ledger: export %s: %w", t.Path(), err)
		}
		if err := writeExportFile(dir, t.Path(), hashes); err != nil {
			return err
		}
	}
	return writeExportFile(dir, CheckpointFile, checkpoint)
}

// extendsExport refuses to write over an export in dir that the ledger,
// up to cp, does not extend: one of another ledger, or of this one before
// it was rewritten or rolled back, is evidence, perhaps the only copy of
// the checkpoints it holds outside the database. A folder without a
// checkpoint file is taken as new.
func extendsExport(ctx context.Context, s Storage, dir string, cp Checkpoint) error {
	path := filepath.Join(dir, CheckpointFile)
	msg, err := readLimited(path, MaxCheckpointSize, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	prev, err := parseUnverified(msg)
	if err != nil {
		return fmt.Errorf("ledger: export: %s is not a checkpoint (%w); export to an empty folder", path, err)
	}
	kept := fmt.Sprintf("the export in %s (%d entries, %s) is kept; export to an empty folder", dir, prev.Size, prev.Origin)
	switch {
	case prev.Origin != cp.Origin:
		return fmt.Errorf("%w: another ledger's export: %s", ErrBadCheckpoint, kept)
	case prev.Size > cp.Size:
		return fmt.Errorf("%w: the ledger holds %d entries, fewer than its earlier export: it was rolled back, or the export is another ledger's; %s", ErrBadCheckpoint, cp.Size, kept)
	}
	root, err := TreeHash(ctx, s, prev.Size)
	if err != nil {
		return err
	}
	if root != prev.Root {
		return fmt.Errorf("%w: the ledger does not extend its earlier export: its first %d entries were rewritten, or the export is another ledger's; %s", ErrBadCheckpoint, prev.Size, kept)
	}
	return nil
}

// writeExportFile writes dir/name atomically. Exports are meant to be handed
// to outside parties, so files are world-readable: leaves carry only opaque
// ids and hashes (see docs/LEDGER.md).
func writeExportFile(dir, name string, data []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name()) // best effort: the write already failed
		return fmt.Errorf("ledger: export %s: %w", name, err)
	}
	return nil
}

// VerifyExport checks an export directory offline: the checkpoint's signature
// by vkey, every leaf's record hash against the hash tiles, every stored hash
// in the hash tiles against the tree rebuilt from the leaves, and the rebuilt
// root against the checkpoint. It returns the checkpoint, an error wrapping
// ErrBadCheckpoint if the checkpoint does not verify or claims more than
// MaxExportSize leaves, or a *TamperError naming the first bad leaf. It
// hashes, it does not parse leaves: run DecodeLeaf over the data tiles to
// check their format as well.
//
// Record hashing runs on all CPUs, tile by tile, while one goroutine rebuilds
// the tree in order; the tree costs about one SHA-256 of 65 bytes per leaf.
func VerifyExport(dir string, vkey string) (Checkpoint, error) {
	msg, err := readLimited(filepath.Join(dir, CheckpointFile), MaxCheckpointSize, nil)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: verify export: %w", err)
	}
	cp, err := OpenCheckpoint(msg, vkey)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := checkExportSize(cp.Size); err != nil {
		return Checkpoint{}, err
	}
	v := exportVerifier{dir: dir, size: cp.Size}
	if err := v.run(); err != nil {
		return Checkpoint{}, err
	}
	if root := v.b.root(); root != cp.Root {
		return Checkpoint{}, tampered(-1, "tree rebuilt from the exported leaves has root %s, the checkpoint %s", root, cp.Root)
	}
	return cp, nil
}

type exportVerifier struct {
	dir   string
	size  int64
	b     treeBuilder
	upper [64]loadedTile // the current hash tile of each level above 0
	free  sync.Pool      // of *[]tlog.Hash: record hash slices the tree builder is done with
}

// tileBuffers are one worker's file buffers, reused from tile to tile: a
// fresh 64 KiB per data tile made the garbage collector the verifier's
// largest cost.
type tileBuffers struct {
	data, hashes []byte
}

type loadedTile struct {
	n      int64
	data   []byte
	loaded bool
}

type tileResult struct {
	hashes []tlog.Hash // record hashes of the tile's leaves
	err    error
}

func (v *exportVerifier) run() error {
	nTiles := tileCount(v.size)
	workers := runtime.GOMAXPROCS(0)
	// Results come back through one channel per tile, queued in tile order, so
	// the tree is built in order however the workers finish; the queue's
	// capacity bounds the tiles in flight and so the memory.
	ordered := make(chan chan tileResult, 4*workers)
	type job struct {
		k   int64
		out chan tileResult
	}
	jobs := make(chan job, 4*workers)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)

	wg.Go(func() {
		defer close(ordered)
		defer close(jobs)
		for k := range nTiles {
			out := make(chan tileResult, 1)
			select {
			case ordered <- out:
			case <-done:
				return
			}
			select {
			case jobs <- job{k, out}:
			case <-done:
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			var bufs tileBuffers
			for j := range jobs {
				j.out <- v.hashDataTile(j.k, &bufs)
			}
		})
	}
	k := int64(0)
	for out := range ordered {
		r := <-out
		if r.err != nil {
			return r.err
		}
		for i, rh := range r.hashes {
			if err := v.addRecord(k*tileWidth+int64(i), rh); err != nil {
				return err
			}
		}
		v.free.Put(&r.hashes)
		k++
	}
	return nil
}

// hashDataTile reads data tile k and its level-0 hash tile, and returns the
// record hashes of the tile's leaves once each matches its hash tile entry.
func (v *exportVerifier) hashDataTile(k int64, bufs *tileBuffers) tileResult {
	w := int(min(tileWidth, v.size-k*tileWidth))
	base := k * tileWidth
	dataTile := tlog.Tile{H: TileHeight, L: -1, N: k, W: w}
	data, err := readLimited(filepath.Join(v.dir, filepath.FromSlash(dataTile.Path())), int64(w)*(MaxLeafSize+1), bufs.data)
	if err != nil {
		return tileResult{err: v.fileError(base, dataTile, err)}
	}
	bufs.data = data
	hashTile := tlog.Tile{H: TileHeight, L: 0, N: k, W: w}
	hashData, err := v.readHashTile(hashTile, base, bufs.hashes)
	if err != nil {
		return tileResult{err: err}
	}
	bufs.hashes = hashData
	var hashes []tlog.Hash
	if p, ok := v.free.Get().(*[]tlog.Hash); ok && cap(*p) >= w {
		hashes = (*p)[:w]
	} else {
		hashes = make([]tlog.Hash, w, tileWidth)
	}
	for i := range hashes {
		idx := base + int64(i)
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return tileResult{err: tampered(idx, "leaf missing: %s ends after %d of its %d leaves", dataTile.Path(), i, w)}
		}
		hashes[i] = tlog.RecordHash(data[:end])
		data = data[end+1:]
		if !bytes.Equal(hashes[i][:], hashData[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
			return tileResult{err: tampered(idx, "record hash of the leaf in %s differs from entry %d of %s", dataTile.Path(), i, hashTile.Path())}
		}
	}
	if len(data) > 0 {
		return tileResult{err: tampered(base+int64(w), "%s holds more than its %d leaves", dataTile.Path(), w)}
	}
	return tileResult{hashes: hashes}
}

// addRecord adds record idx to the tree and checks the hashes it completes at
// levels 8, 16, ... against the upper hash tiles.
func (v *exportVerifier) addRecord(idx int64, rh tlog.Hash) error {
	_, hashes := v.b.add(rh)
	for level := TileHeight; level < len(hashes); level += TileHeight {
		l := level / TileHeight
		node := idx >> level // the level-`level` node this record completes
		n, off := node/tileWidth, node%tileWidth
		t := &v.upper[l]
		if !t.loaded || t.n != n {
			w := int(min(tileWidth, (v.size>>level)-n*tileWidth))
			tile := tlog.Tile{H: TileHeight, L: l, N: n, W: w}
			data, err := v.readHashTile(tile, idx, t.data)
			if err != nil {
				return err
			}
			*t = loadedTile{n: n, data: data, loaded: true}
		}
		if !bytes.Equal(hashes[level][:], t.data[off*tlog.HashSize:(off+1)*tlog.HashSize]) {
			tile := tlog.Tile{H: TileHeight, L: l, N: n, W: len(t.data) / tlog.HashSize}
			return tampered(idx, "entry %d of %s differs from the level-%d hash rebuilt from the leaves", off, tile.Path(), level)
		}
	}
	return nil
}

// readHashTile reads a hash tile into buf, blaming leaf idx if it is missing
// or the wrong size.
func (v *exportVerifier) readHashTile(t tlog.Tile, idx int64, buf []byte) ([]byte, error) {
	data, err := readLimited(filepath.Join(v.dir, filepath.FromSlash(t.Path())), int64(t.W)*tlog.HashSize, buf)
	if err != nil {
		return nil, v.fileError(idx, t, err)
	}
	if len(data) != t.W*tlog.HashSize {
		return nil, tampered(idx, "%s has %d bytes, want %d", t.Path(), len(data), t.W*tlog.HashSize)
	}
	return data, nil
}

func (v *exportVerifier) fileError(idx int64, t tlog.Tile, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return tampered(idx, "%s is missing", t.Path())
	}
	if errors.Is(err, errTooLarge) {
		return tampered(idx, "%s is larger than a tile of its width can be", t.Path())
	}
	return fmt.Errorf("ledger: verify export: %w", err)
}

var errTooLarge = errors.New("file too large")

// readLimited reads a whole file of at most max bytes into buf, growing it
// if needed, so a hostile export cannot make the verifier allocate without
// bound. It sizes the read from the file's length: a verifier reads
// thousands of tiles, and growing a buffer for each costs more than hashing.
func readLimited(path string, max int64, buf []byte) ([]byte, error) {
	// Not a FIFO or a device, whose opening or reading would not end.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // opened read-only: closing cannot lose data
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %w", path, errTooLarge)
	}
	// One byte to spare shows a file that grew after Stat.
	if need := int(fi.Size()) + 1; cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:fi.Size()+1]
	n, err := io.ReadFull(f, buf)
	switch err {
	case io.ErrUnexpectedEOF, io.EOF:
		return buf[:n], nil
	case nil:
		return nil, fmt.Errorf("%s: changed while being read", path)
	default:
		return nil, err
	}
}
