package sqlstore

import (
	"strings"
	"testing"
)

func TestInListPadsToFewShapes(t *testing.T) {
	shapes := map[int]bool{}
	for n := 1; n <= 600; n++ {
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i
		}
		in, args := inList(xs)
		if strings.Count(in, "?") != len(args) || len(args) < n {
			t.Fatalf("inList(%d values) = %d placeholders, %d args", n, strings.Count(in, "?"), len(args))
		}
		seen := map[int]bool{}
		for i, a := range args {
			v := a.(int)
			if i < n && v != i || i >= n && v != n-1 {
				t.Fatalf("inList(%d values): argument %d is %d", n, i, v)
			}
			seen[v] = true
		}
		if len(seen) != n {
			t.Fatalf("inList(%d values) carries %d distinct values", n, len(seen))
		}
		if n <= inBatch {
			shapes[len(args)] = true
		}
	}
	if len(shapes) != len(inSizes) {
		t.Errorf("lists of 1 to %d values come in %d shapes, want %d", inBatch, len(shapes), len(inSizes))
	}
}

func TestValueRows(t *testing.T) {
	for _, c := range []struct {
		n, width int
		want     string
	}{
		{1, 1, "(?)"},
		{1, 3, "(?, ?, ?)"},
		{3, 2, "(?, ?), (?, ?), (?, ?)"},
	} {
		if got := valueRows(c.n, c.width); got != c.want {
			t.Errorf("valueRows(%d, %d) = %q, want %q", c.n, c.width, got, c.want)
		}
	}
}

// TestAheadKeysDoNotCollide: argument lists that would run together if
// joined name different keys.
func TestAheadKeysDoNotCollide(t *testing.T) {
	a := aheadKey("q", []any{[]byte("a\x00b"), []byte("c")})
	b := aheadKey("q", []any{[]byte("a"), []byte("b\x00c")})
	c := aheadKey("q", []any{"ab", "c"})
	d := aheadKey("q", []any{"a", "bc"})
	if a == b || c == d {
		t.Errorf("keys collide: %q %q, %q %q", a, b, c, d)
	}
	if aheadKey("q", []any{"x"}) != aheadKey("q", []any{[]byte("x")}) {
		t.Error("a string and its bytes name different keys")
	}
}
