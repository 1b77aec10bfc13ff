package web

import "strings"

// diffOp says what happened to a line between two revisions.
type diffOp int

const (
	diffSame diffOp = iota
	diffAdded
	diffRemoved
	diffFolded // unchanged lines, or lines past maxShownLines, not shown: Text says how many
)

// diffLine is one line of a line diff.
type diffLine struct {
	Op   diffOp
	Text string
}

// Same, Added and Removed are for templates.
func (l diffLine) Same() bool    { return l.Op == diffSame }
func (l diffLine) Added() bool   { return l.Op == diffAdded }
func (l diffLine) Removed() bool { return l.Op == diffRemoved }
func (l diffLine) Folded() bool  { return l.Op == diffFolded }

// maxDiffCells bounds the LCS table: the lines left after trimming the
// common head and tail, multiplied. Beyond it the diff shows the middle as
// removed and added whole rather than spend the memory.
const maxDiffCells = 1 << 20

// diff returns a line diff of a and b from a longest common subsequence of
// their lines: lines in both (in order) are kept, the rest removed from a
// or added from b, removals first. ok is false when the texts were too far
// apart to compare line by line within maxDiffCells.
func diff(a, b string) (lines []diffLine, ok bool) {
	x, y := splitLines(a), splitLines(b)
	// The common head and tail need no table, and usually they are most of
	// the text: revisions differ in a few places.
	head := 0
	for head < len(x) && head < len(y) && x[head] == y[head] {
		head++
	}
	tail := 0
	for tail < len(x)-head && tail < len(y)-head && x[len(x)-1-tail] == y[len(y)-1-tail] {
		tail++
	}
	for _, s := range x[:head] {
		lines = append(lines, diffLine{diffSame, s})
	}
	mx, my := x[head:len(x)-tail], y[head:len(y)-tail]
	ok = len(mx)*len(my) <= maxDiffCells
	if ok {
		lines = append(lines, lcsDiff(mx, my)...)
	} else {
		for _, s := range mx {
			lines = append(lines, diffLine{diffRemoved, s})
		}
		for _, s := range my {
			lines = append(lines, diffLine{diffAdded, s})
		}
	}
	for _, s := range x[len(x)-tail:] {
		lines = append(lines, diffLine{diffSame, s})
	}
	return lines, ok
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lcsDiff diffs x and y with the classic dynamic programme: l[i][j] is the
// length of the longest common subsequence of x[i:] and y[j:].
func lcsDiff(x, y []string) []diffLine {
	n, m := len(x), len(y)
	w := m + 1
	l := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case x[i] == y[j]:
				l[i*w+j] = l[(i+1)*w+j+1] + 1
			case l[(i+1)*w+j] >= l[i*w+j+1]:
				l[i*w+j] = l[(i+1)*w+j]
			default:
				l[i*w+j] = l[i*w+j+1]
			}
		}
	}
	out := make([]diffLine, 0, n+m)
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case x[i] == y[j]:
			out = append(out, diffLine{diffSame, x[i]})
			i++
			j++
		case l[(i+1)*w+j] >= l[i*w+j+1]:
			out = append(out, diffLine{diffRemoved, x[i]})
			i++
		default:
			out = append(out, diffLine{diffAdded, y[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, diffLine{diffRemoved, x[i]})
	}
	for ; j < m; j++ {
		out = append(out, diffLine{diffAdded, y[j]})
	}
	return out
}

// diffView is a diff ready to show, with the words a screen reader says
// before each changed line.
type diffView struct {
	Lines                    []diffLine
	AddedLabel, RemovedLabel string
	TooLarge                 bool
}

func newDiffView(v *visit, a, b string) diffView {
	lines, ok := diff(a, b)
	return diffView{Lines: fold(v, lines), AddedLabel: v.T("Added:"), RemovedLabel: v.T("Removed:"), TooLarge: !ok}
}

// diffContext is how many unchanged lines are shown on each side of a
// change; maxShownLines bounds the lines a diff shows. A page of every
// line of two long revisions, each in its markup, would be many times
// their size, built whole before a byte is sent.
const (
	diffContext   = 3
	maxShownLines = 5000
)

// fold replaces each run of unchanged lines longer than the context it
// leaves around changes with one line saying how many are not shown, and
// cuts the diff at maxShownLines, saying how many more there are.
func fold(v *visit, lines []diffLine) []diffLine {
	var out []diffLine
	for i := 0; i < len(lines); {
		if lines[i].Op != diffSame {
			out = append(out, lines[i])
			i++
			continue
		}
		j := i
		for j < len(lines) && lines[j].Op == diffSame {
			j++
		}
		keepHead, keepTail := diffContext, diffContext
		if i == 0 {
			keepHead = 0 // nothing changed before the run
		}
		if j == len(lines) {
			keepTail = 0 // nor after it
		}
		// A fold that hides no more than the context it leaves would
		// say as much as the lines themselves.
		if j-i-keepHead-keepTail <= diffContext {
			out = append(out, lines[i:j]...)
		} else {
			out = append(out, lines[i:i+keepHead]...)
			out = append(out, diffLine{diffFolded, v.T("%d unchanged lines", j-i-keepHead-keepTail)})
			out = append(out, lines[j-keepTail:j]...)
		}
		i = j
	}
	if len(out) > maxShownLines {
		rest := len(out) - maxShownLines
		out = append(out[:maxShownLines:maxShownLines], diffLine{diffFolded, v.T("%d more lines of the comparison are not shown", rest)})
	}
	return out
}
