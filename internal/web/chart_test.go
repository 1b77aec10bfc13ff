package web

import "testing"

func TestChart(t *testing.T) {
	c := newChart("x", "Caption", []figure{{"a", "40"}, {"b", "10"}, {"c", "<5"}, {"d", "suppressed"}, {"e", "0"}, {"f", "1"}})
	want := []struct {
		w      int
		hidden bool
	}{{chartBarMax, false}, {chartBarMax / 4, false}, {chartBarH, true}, {chartBarH, true}, {0, false}, {chartBarMax / 40, false}}
	for i, b := range c.Bars {
		if b.W != want[i].w || b.Hidden != want[i].hidden {
			t.Errorf("bar %s: width %d hidden %v, want %d %v", b.Label, b.W, b.Hidden, want[i].w, want[i].hidden)
		}
		if i > 0 && b.Y <= c.Bars[i-1].Y {
			t.Errorf("bar %s overlaps the one above", b.Label)
		}
	}
	if last := c.Bars[len(c.Bars)-1]; c.Height < last.Y+chartBarH {
		t.Errorf("height %d cuts off the last bar", c.Height)
	}
	if tiny := newChart("z", "", []figure{{"a", "1000"}, {"b", "1"}}); tiny.Bars[1].W != 2 {
		t.Errorf("a count of 1 among 1000 is %d wide, want the 2 that keeps it visible", tiny.Bars[1].W)
	}
	if empty := newChart("y", "", []figure{{"a", "0"}}); empty.Bars[0].W != 0 {
		t.Error("an all-zero chart draws a bar")
	}
}
