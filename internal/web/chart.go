package web

import "strconv"

// A chart is a horizontal bar chart drawn on the server as SVG. The SVG is
// hidden from screen readers; the table beside it carries the same figures.
type chart struct {
	ID      string
	Caption string
	Bars    []chartBar
	Height  int
}

// chartBar is one bar, with its geometry worked out for the template.
type chartBar struct {
	Label string // translated
	Text  string // the published count: a number, "<5" or "suppressed"
	Y     int    // top of the bar
	TextY int    // baseline of the label and the value
	W     int    // width of the bar; 0 for a hidden count
	X2    int    // where the value is written
	// Hidden marks a count suppressed to protect people: drawn as an
	// outline, never as a length.
	Hidden bool
}

// Chart geometry, in SVG user units.
const (
	chartWidth  = 640
	chartLabelW = 230
	chartBarMax = 330
	chartBarH   = 22
	chartGap    = 12
)

// Width is the chart's width in SVG units.
func (chart) Width() int { return chartWidth }

// LabelW is the width kept for the labels, where the bars start.
func (chart) LabelW() int { return chartLabelW }

// BarH is the height of a bar.
func (chart) BarH() int { return chartBarH }

// figure is one labelled published count, as the service prints it: a
// number, "<5" or "suppressed".
type figure struct {
	Label string
	Count string
}

// newChart lays out bars for figures. Suppressed counts get no length, so
// that the drawing never hints at a hidden number.
func newChart(id, caption string, figs []figure) chart {
	c := chart{ID: id, Caption: caption}
	most := 0
	for _, f := range figs {
		if n, err := strconv.Atoi(f.Count); err == nil {
			most = max(most, n)
		}
	}
	y := chartGap / 2
	for _, f := range figs {
		b := chartBar{Label: f.Label, Text: f.Count, Y: y, TextY: y + chartBarH*3/4}
		n, err := strconv.Atoi(b.Text)
		switch {
		case err != nil:
			b.Hidden = true
			b.W = chartBarH
		case most > 0:
			b.W = n * chartBarMax / most
			if n > 0 && b.W < 2 {
				b.W = 2
			}
		}
		b.X2 = chartLabelW + b.W + 8
		c.Bars = append(c.Bars, b)
		y += chartBarH + chartGap
	}
	c.Height = y - chartGap/2
	return c
}
