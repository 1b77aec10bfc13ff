package web

import (
	"strings"
	"testing"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// render writes a diff as " line", "+line" and "-line".
func render(lines []diffLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString([]string{" ", "+", "-"}[l.Op] + l.Text + "\n")
	}
	return b.String()
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"same", "a\nb", "a\nb", " a\n b\n"},
		{"both empty", "", "", ""},
		{"from empty", "", "a\nb", "+a\n+b\n"},
		{"to empty", "a", "", "-a\n"},
		{"line added at the end", "a\nb", "a\nb\nc", " a\n b\n+c\n"},
		{"line added in the middle", "a\nc", "a\nb\nc", " a\n+b\n c\n"},
		{"line removed", "a\nb\nc", "a\nc", " a\n-b\n c\n"},
		{"line changed", "a\nb\nc", "a\nB\nc", " a\n-b\n+B\n c\n"},
		{"lines moved keep the longest common part", "a\nb\nc\nd", "c\nd\na\nb", "-a\n-b\n c\n d\n+a\n+b\n"},
		{"trailing newline ignored", "a\n", "a", " a\n"},
		{"windows line ends", "a\r\nb\r\n", "a\nb\n", " a\n b\n"},
		{"repeated lines", "x\nx\nx", "x\nx", " x\n x\n-x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, ok := diff(tt.a, tt.b)
			if !ok {
				t.Fatal("diff gave up")
			}
			if got := render(lines); got != tt.want {
				t.Errorf("diff:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestDiffKeepsBothTexts checks on larger inputs that the diff is a true
// edit script: the kept and removed lines give a, the kept and added b.
func TestDiffKeepsBothTexts(t *testing.T) {
	var a, b []string
	for i := range 400 {
		a = append(a, "line "+string(rune('a'+i%26))+strings.Repeat("x", i%7))
		if i%9 != 0 {
			b = append(b, a[i])
		}
		if i%13 == 0 {
			b = append(b, "new "+a[i])
		}
	}
	lines, ok := diff(strings.Join(a, "\n"), strings.Join(b, "\n"))
	if !ok {
		t.Fatal("diff gave up")
	}
	var gotA, gotB []string
	same := 0
	for _, l := range lines {
		if l.Op != diffAdded {
			gotA = append(gotA, l.Text)
		}
		if l.Op != diffRemoved {
			gotB = append(gotB, l.Text)
		}
		if l.Op == diffSame {
			same++
		}
	}
	if strings.Join(gotA, "\n") != strings.Join(a, "\n") || strings.Join(gotB, "\n") != strings.Join(b, "\n") {
		t.Fatal("the diff does not rebuild both texts")
	}
	if want := 400 - 45; same != want { // every line of a but the 45 removed
		t.Errorf("%d lines kept, want %d", same, want)
	}
}

func TestDiffGivesUpOnHugeChanges(t *testing.T) {
	var a, b strings.Builder
	for i := range 1500 {
		a.WriteString("a" + strings.Repeat("!", i) + "\n")
		b.WriteString("b" + strings.Repeat("?", i) + "\n")
	}
	lines, ok := diff(a.String(), b.String())
	if ok {
		t.Fatal("a 1500×1500 table was built")
	}
	if len(lines) != 3000 || lines[0].Op != diffRemoved || lines[2999].Op != diffAdded {
		t.Errorf("got %d lines", len(lines))
	}
}

func FuzzDiff(f *testing.F) {
	f.Add("a\nb\nc", "a\nc\nd")
	f.Fuzz(func(t *testing.T, a, b string) {
		lines, _ := diff(a, b)
		var gotA, gotB []string
		for _, l := range lines {
			if l.Op != diffAdded {
				gotA = append(gotA, l.Text)
			}
			if l.Op != diffRemoved {
				gotB = append(gotB, l.Text)
			}
		}
		if strings.Join(gotA, "\n") != strings.Join(splitLines(a), "\n") || strings.Join(gotB, "\n") != strings.Join(splitLines(b), "\n") {
			t.Fatalf("diff of %q and %q does not rebuild them", a, b)
		}
	})
}

// TestFold: a diff shows the changes with diffContext unchanged lines on
// each side, says how many it leaves out, and stops at maxShownLines.
func TestFold(t *testing.T) {
	v := &visit{locale: &locale{p: message.NewPrinter(language.English)}}
	lines := func(s string) []diffLine {
		var out []diffLine
		for _, c := range s {
			op := map[rune]diffOp{'=': diffSame, '+': diffAdded, '-': diffRemoved}[c]
			out = append(out, diffLine{Op: op, Text: string(c)})
		}
		return out
	}
	show := func(ls []diffLine) string {
		var b strings.Builder
		for _, l := range ls {
			if l.Folded() {
				b.WriteString("[" + l.Text + "]")
			} else {
				b.WriteString(l.Text)
			}
		}
		return b.String()
	}
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"==========", "[10 unchanged lines]"},
		{"========+", "[5 unchanged lines]===+"},
		{"-=========", "-===[6 unchanged lines]"},
		{"+===========-", "+===[5 unchanged lines]===-"},
		{"+=======-", "+=======-"}, // a fold that hides 1 line says no less than the line
		{"+=========-", "+=========-"},
		{"+==========-", "+===[4 unchanged lines]===-"},
		{"=====+", "=====+"},
		{"+====", "+===="},
	} {
		if got := show(fold(v, lines(c.in))); got != c.want {
			t.Errorf("fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := fold(v, lines(strings.Repeat("+", maxShownLines+7)))
	if len(long) != maxShownLines+1 || show(long[maxShownLines:]) != "[7 more lines of the comparison are not shown]" {
		t.Errorf("a long diff ends with %q after %d lines", show(long[len(long)-1:]), len(long)-1)
	}
}
